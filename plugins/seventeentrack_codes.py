"""17TRACK API v2.2's tracking statuses: the 9 main statuses and 30 sub-statuses it documents, read
as our status, kind of pick-up point and buyer action.

Source: 17TRACK's API documentation (asset.17track.net/api/document/v2.2_en, "Tracking status")
and its help article "Understanding Tracking Status: Main Status & Substatus" (help.17track.net,
article 37471096573337), which lists the same 9 + 30 names with their descriptions. The mapping is
ours; docs/carrier-codes.md has the table.

17TRACK does not say what kind of place `AvailableForPickup` is; the plugin reads that from the
event's wording (`point_from_text`), and leaves it unsaid otherwise.
"""

from __future__ import annotations

import re
from functools import lru_cache

from monitor.model import Action, Point, Status
from monitor.sourcekit import Meaning

_S = Status

MAIN_STATUSES: dict[str, Meaning] = {
    "NotFound": Meaning(_S.NOT_FOUND),
    "InfoReceived": Meaning(_S.INFO_RECEIVED),
    "InTransit": Meaning(_S.IN_TRANSIT),
    # 17TRACK stopped following a parcel in transit for too long: someone has to look.
    "Expired": Meaning(_S.EXCEPTION),
    "AvailableForPickup": Meaning(_S.AT_POST_OFFICE),
    "OutForDelivery": Meaning(_S.OUT_FOR_DELIVERY),
    "DeliveryFailure": Meaning(_S.DELIVERY_FAILED),
    "Delivered": Meaning(_S.DELIVERED),
    "Exception": Meaning(_S.EXCEPTION),
}

SUB_STATUSES: dict[str, Meaning] = {
    "NotFound_Other": Meaning(_S.NOT_FOUND),
    "NotFound_InvalidCode": Meaning(_S.NOT_FOUND),
    "InfoReceived": Meaning(_S.INFO_RECEIVED),
    "InTransit_PickedUp": Meaning(_S.IN_TRANSIT),
    "InTransit_Other": Meaning(_S.IN_TRANSIT),
    "InTransit_Departure": Meaning(_S.IN_TRANSIT),
    "InTransit_Arrival": Meaning(_S.IN_TRANSIT),
    "InTransit_CustomsProcessing": Meaning(_S.CUSTOMS),
    "InTransit_CustomsReleased": Meaning(_S.IN_TRANSIT),
    # "Related information is required for clearance": customs waits for the buyer's papers.
    "InTransit_CustomsRequiringInformation": Meaning(_S.CUSTOMS, action=Action.CUSTOMS_DOCUMENTS),
    "Expired_Other": Meaning(_S.EXCEPTION),
    "AvailableForPickup_Other": Meaning(_S.AT_POST_OFFICE),
    "OutForDelivery_Other": Meaning(_S.OUT_FOR_DELIVERY),
    "DeliveryFailure_Other": Meaning(_S.DELIVERY_FAILED),
    "DeliveryFailure_NoBody": Meaning(_S.DELIVERY_FAILED),
    # "Security, customs clearance, or fee issues": the carrier needs something from the buyer.
    "DeliveryFailure_Security": Meaning(_S.DELIVERY_FAILED, action=Action.OTHER),
    "DeliveryFailure_Rejected": Meaning(_S.DELIVERY_FAILED),
    "DeliveryFailure_InvalidAddress": Meaning(_S.DELIVERY_FAILED, action=Action.ADDRESS),
    "Delivered_Other": Meaning(_S.DELIVERED),
    "Exception_Other": Meaning(_S.EXCEPTION),
    "Exception_Returning": Meaning(_S.RETURNING),
    "Exception_Returned": Meaning(_S.RETURNING),
    # "Abnormal recipient information discovered before delivery".
    "Exception_NoBody": Meaning(_S.EXCEPTION, action=Action.ADDRESS),
    "Exception_Security": Meaning(_S.EXCEPTION, action=Action.OTHER),
    "Exception_Damage": Meaning(_S.EXCEPTION),
    "Exception_Rejected": Meaning(_S.EXCEPTION),
    "Exception_Delayed": Meaning(_S.EXCEPTION),
    "Exception_Lost": Meaning(_S.EXCEPTION),
    "Exception_Destroyed": Meaning(_S.EXCEPTION),
    "Exception_Cancel": Meaning(_S.EXCEPTION),
}

# An event's `stage` (every API version) names a milestone rather than a status.
STAGES: dict[str, Meaning] = {
    "PickedUp": Meaning(_S.IN_TRANSIT),
    "Departure": Meaning(_S.IN_TRANSIT),
    "Arrival": Meaning(_S.IN_TRANSIT),
    "Returning": Meaning(_S.RETURNING),
    "Returned": Meaning(_S.RETURNING),
}

# Words carriers use for the kind of place (English and Russian, as 17TRACK passes them on).
_POINT_WORDS = (
    (Point.LOCKER, r"locker|parcel terminal|packstation|paketomat|почтомат|постамат|postamat"),
    (
        Point.PICKUP_POINT,
        r"pick-?\s?up point|parcel ?shop|paketshop|retail outlet|service point"
        r"|пункт[а-я]* выдачи|\bпвз\b",
    ),
    (Point.OFFICE, r"post office|postal office|почтов[а-я]+ отделени|\bопс\b|отделени[а-я]+ связи"),
)
_POINT_PATTERNS = [(point, re.compile(words, re.IGNORECASE)) for point, words in _POINT_WORDS]


@lru_cache(maxsize=1024)  # three case-blind searches, for wordings that repeat in every answer
def point_from_text(text: str) -> Point | None:
    """The kind of pick-up place an event's wording names, if it names one."""
    for point, pattern in _POINT_PATTERNS:
        if pattern.search(text):
            return point
    return None
