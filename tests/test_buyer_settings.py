"""The [buyer] section refuses postcodes that no post office has (they end up in pages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_settings
from monitor.rules.base import BuyerSettings


@pytest.mark.parametrize("code", ["<script>", "420111;DROP", "1234567890123", "42 0\t111"])
def test_a_postcode_that_no_post_office_has_is_refused(code: str) -> None:
    with pytest.raises(ValueError, match="postcode"):
        BuyerSettings(postcodes=(code,))


def test_postcodes_of_letters_digits_spaces_and_dashes_are_kept() -> None:
    codes = BuyerSettings(postcodes=("SW1A 1AA", "420-111", " 420111 ")).postcodes
    assert codes == ("SW1A 1AA", "420-111", "420111")


def test_the_error_names_the_key_and_the_value(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[buyer]\npostcodes = ["<script>"]\n')
    with pytest.raises(ConfigError, match=r"buyer\.postcodes.*<script>"):
        load_settings(config)
