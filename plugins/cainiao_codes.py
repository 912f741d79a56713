"""Cainiao's event action codes (`detailList[].actionCode`) and parcel statuses, read as our status,
kind of pick-up point and buyer action; and `destCountry` names as ISO country codes.

Where the rows come from (docs/carrier-codes.md has the table): the action-code enumeration of
Alibaba's open-platform API `aliexpress.logistics.redefining.querytrackingresult`
(developer.alibaba.com, scopeId 12782, apiId 30120; the enumeration itself says it is not
exhaustive), as listed in a public reference note found through the code index; the codes seen in
real detail.json answers (../shared/fixtures/cainiao, FORMATS.md: WMS_CONFIRMED,
CUSTOMS_ARRIVED_IN_AREA_CALLBACK, TRANSIT_PORT_REROUTE_CALLBACK); the parcel statuses seen in those
answers. The mapping is ours.

Codes without a row are read by their family prefix where one says enough (customs, warehouse),
otherwise as in_transit; the plugin logs them once.
"""

from __future__ import annotations

from functools import lru_cache

import pycountry

from monitor.model import Action, Point, Status
from monitor.sourcekit import Meaning

_S = Status
TRANSIT = Meaning(_S.IN_TRANSIT)
INFO = Meaning(_S.INFO_RECEIVED)
CUSTOMS = Meaning(_S.CUSTOMS)
EXCEPTION = Meaning(_S.EXCEPTION)
FAILED = Meaning(_S.DELIVERY_FAILED)
OUT = Meaning(_S.OUT_FOR_DELIVERY)
DELIVERED = Meaning(_S.DELIVERED)
RETURNING = Meaning(_S.RETURNING)
AT_PICKUP_POINT = Meaning(_S.AT_POST_OFFICE, Point.PICKUP_POINT)
AT_LOCKER = Meaning(_S.AT_POST_OFFICE, Point.LOCKER)

# code -> (what Cainiao's list says it is, our reading)
ACTIONS: dict[str, tuple[str, Meaning]] = {
    # Dispatch by the seller
    "CONSIGN": ("shipment declared", INFO),
    "OM_CONSIGN": ("merchant dispatched", INFO),
    "GTMS_ASN": ("advance shipping notice received", INFO),
    # Pick-up at the seller
    "PU_PICKUP_SUCCESS": ("picked up", TRANSIT),
    "PU_PICKUP_FAILURE": ("pick-up failed", INFO),
    "PU_SIGN_IN_SUCCESS": ("signed in at the origin pick-up point", TRANSIT),
    "PU_SIGN_IN_FAILURE": ("sign-in at the origin pick-up point failed", INFO),
    # Origin sorting centre
    "SC_INBOUND_SUCCESS": ("arrived at a sorting centre", TRANSIT),
    "SC_INBOUND_FAILURE": ("sorting centre inbound failed", EXCEPTION),
    "SC_OUTBOUND_SUCCESS": ("left a sorting centre", TRANSIT),
    "SC_OUTBOUND_FAILURE": ("sorting centre outbound failed", EXCEPTION),
    "SC_HO_OUT_SUCCESS": ("handed to the line haul", TRANSIT),
    "SC_HO_OUT_FAILURE": ("hand-over to the line haul failed", EXCEPTION),
    "SC_SIGN_IN_SUCCESS": ("signed in at a sorting centre", TRANSIT),
    "SC_SIGN_IN_FAILURE": ("sorting centre sign-in failed", EXCEPTION),
    # Transit hub
    "TD_TRANS_ARRIVE": ("arrived at a transit hub", TRANSIT),
    "TD_TRANS_DEPART": ("left a transit hub", TRANSIT),
    # Export customs
    "CC_EX_START": ("export clearance started", CUSTOMS),
    "CC_EX_SUCCESS": ("export clearance done", TRANSIT),
    "CC_EX_FAILURE": ("export clearance failed", CUSTOMS),
    # Line haul
    "LH_HO_IN_SUCCESS": ("arrived at the departure hub", TRANSIT),
    "LH_HO_IN_FAILURE": ("hand-over in at the hub failed", EXCEPTION),
    "LH_POST_COLLECTION": ("hand-over to the post failed", EXCEPTION),
    "LH_HO_AIRLINE": ("handed to the airline", TRANSIT),
    "LH_HO_AIRLINE_FAILURE": ("aviation security check failed", EXCEPTION),
    "LH_DEPART": ("departed from the origin country", TRANSIT),
    "LH_ARRIVE": ("arrived in the destination country", TRANSIT),
    "LH_ARRIVE_FAILURE": ("line-haul arrival failed", EXCEPTION),
    "LH_HO_OUT_SUCCESS": ("handed on after the line haul", TRANSIT),
    "LH_HO_OUT_FAILURE": ("hand-over after the line haul failed", EXCEPTION),
    "LH_OTHER": ("other line-haul event", TRANSIT),
    # Transit-country customs
    "CC_TRANS_START": ("transit clearance started", CUSTOMS),
    "CC_TRANS_SUCCESS": ("transit clearance done", TRANSIT),
    "CC_TRANS_FAILURE": ("transit clearance failed", CUSTOMS),
    # Import customs
    "CC_IM_START": ("import clearance started", CUSTOMS),
    "CC_IM_PROCESS": ("import clearance in progress", CUSTOMS),
    "CC_IM_SUCCESS": ("import clearance done", TRANSIT),
    "CC_IM_FAILURE": ("import clearance failed", CUSTOMS),
    "CC_HO_IN_SUCCESS": ("arrived at customs", CUSTOMS),
    "CC_HO_IN_FAILURE": ("hand-over to customs failed", CUSTOMS),
    "CC_HO_OUT_SUCCESS": ("left customs", TRANSIT),
    "CC_HO_OUT_FAILURE": ("hand-over from customs failed", CUSTOMS),
    "CUS_DECLARE": ("customs declaration submitted", CUSTOMS),
    "CUS_SUCCESS": ("customs review passed", TRANSIT),
    "CUS_FAILURE": ("customs review failed", CUSTOMS),
    "CUS_TAX": ("customs duty assessed", Meaning(_S.CUSTOMS, action=Action.DUTY_PAYMENT)),
    "CIQ_SUCCESS": ("inspection and quarantine passed", TRANSIT),
    "CIQ_FAILURE": ("inspection and quarantine failed", CUSTOMS),
    # Seen in real answers (FORMATS.md), not in the published list
    "CUSTOMS_ARRIVED_IN_AREA_CALLBACK": ("arrived in the customs area", CUSTOMS),
    "TRANSIT_PORT_REROUTE_CALLBACK": ("rerouted through another port", TRANSIT),
    "WMS_CONFIRMED": ("left the warehouse (warehouse system)", INFO),
    # Destination delivery
    "GTMS_ACCEPT": ("accepted by the local carrier", TRANSIT),
    "GTMS_SC_ARRIVE": ("arrived at the destination sorting centre", TRANSIT),
    "GTMS_SC_ARRIVE_FAILURE": ("destination sorting centre arrival failed", EXCEPTION),
    "GTMS_DO_ARRIVE": ("arrived at the last delivery station", TRANSIT),
    "GTMS_DO_DEPART": ("left the last delivery station", OUT),
    "GTMS_DELIVERING": ("out for delivery", OUT),
    "GTMS_DEL_FAILURE": ("delivery failed", FAILED),
    "GTMS_RE_DELIVERING": ("delivery attempted again", OUT),
    "GTMS_RELABEL": ("relabelled or transferred", TRANSIT),
    "GTMS_SIGNED": ("signed for by the recipient", DELIVERED),
    "GTMS_SIGN_FAILURE": ("signing failed", FAILED),
    "GTMS_WAIT_SELF_PICK": ("waiting for the buyer to collect it", AT_PICKUP_POINT),
    # The pick-up station signed it in: waiting for the buyer, not delivered.
    "GTMS_STA_SIGNED": ("signed in at a pick-up station", AT_PICKUP_POINT),
    "GTMS_STA_SIGN_FAILURE": ("pick-up station sign-in failed", EXCEPTION),
    "GTMS_STATION_IN": ("arrived at a delivery node", TRANSIT),
    "GTMS_STATION_OUT": ("left a delivery node", TRANSIT),
    "GTMS_FAILURE": ("delivery exception", EXCEPTION),
    "GTMS_OTHER": ("other delivery event", TRANSIT),
    # Address changes
    "GTMS_STA_WAIT_CUST_CHANGE_ADDRESS": (
        "waiting for the buyer to update the address",
        Meaning(_S.EXCEPTION, action=Action.ADDRESS),
    ),
    "GTMS_STA_CUST_TO_DOOR": ("buyer changed the delivery address", TRANSIT),
    "GTMS_STA_CHANGE": ("buyer changed the pick-up point", TRANSIT),
    "GTMS_STA_CN_TO_DOOR": ("system changed the delivery address", TRANSIT),
    "GTMS_STA_CN_CHANGE": ("system changed the pick-up point", TRANSIT),
    "GTMS_STA_CNCP_TO_DOOR": ("carrier changed the delivery address", TRANSIT),
    "GTMS_STA_CNCP_CHANGE": ("carrier changed the pick-up point", TRANSIT),
    # Pick-up points
    "GSTA_SIGN": ("collected at the pick-up point", DELIVERED),
    "GSTA_SIGN_FAIL": ("collection at the pick-up point failed", FAILED),
    "STA_SIGN": ("collected at a pick-up point", DELIVERED),
    "STA_SIGN_FAIL": ("collection at a pick-up point failed", FAILED),
    "GSTAHUB_INBOUND": ("arrived at a pick-up distribution centre", TRANSIT),
    "GSTAHUB_INBOUND_FAIL": ("pick-up distribution centre inbound failed", EXCEPTION),
    "GSTA_INBOUND": ("arrived at the pick-up point", AT_PICKUP_POINT),
    "GSTA_INBOUND_FAIL": ("pick-up point inbound failed", EXCEPTION),
    "GSTA_BUYER_SIGN": ("buyer collected it at the pick-up point", DELIVERED),
    "GSTA_BUYER_SIGN_FAIL": ("buyer's collection failed", FAILED),
    "GSTA_INFORM_BUYER": ("buyer notified to collect it", AT_PICKUP_POINT),
    "GSTA_OTHER": ("other pick-up point event", TRANSIT),
    "POSTMAN_POST": ("put into a parcel locker", AT_LOCKER),
    # Domestic (China) leg: from the seller to Cainiao's warehouse, so "signed" is the
    # warehouse signing for it, never the buyer.
    "GOT": ("domestic pick-up", TRANSIT),
    "REJECT": ("domestic pick-up failed", INFO),
    "DEPARTURE": ("domestic departure", TRANSIT),
    "ARRIVAL": ("domestic arrival", TRANSIT),
    "SENT_SCAN": ("domestic delivery to the warehouse", TRANSIT),
    "SIGNED": ("signed for at the warehouse", TRANSIT),
    "FAILED": ("domestic delivery failed", EXCEPTION),
    # Global warehouse: still with the seller or the consolidator
    "GWMS_ACCEPT": ("order accepted by the warehouse", INFO),
    "GWMS_REJECT": ("warehouse refused the order", EXCEPTION),
    "GWMS_PICK": ("picked in the warehouse", INFO),
    "GWMS_PACKAGE": ("packed", INFO),
    "GWMS_OUTBOUND": ("left the warehouse", INFO),
    "GWMS_HANDOVER": ("handed over by the warehouse", INFO),
    "GWMS_EXCEPTION": ("warehouse exception", EXCEPTION),
    "GWMS_CANCEL": ("cancelled in the warehouse", EXCEPTION),
    # Returns
    "RT_INBOUND": ("returned to the overseas warehouse", RETURNING),
    "RETURNED": ("returned to the seller", RETURNING),
    "RT_OUTBOUND": ("return left the overseas warehouse", RETURNING),
    "RT_DESTROY": ("destroyed by the overseas carrier", EXCEPTION),
    "RT_HO_OUT": ("return handed over", RETURNING),
    "RT_WH_HO_IN": ("return warehouse received it", RETURNING),
    "RT_WH_HO_IN_FAIL": ("return warehouse receipt failed", RETURNING),
    "RT_WH_INBOUND": ("arrived at the return warehouse", RETURNING),
    "RT_WH_INBOUND_FAILURE": ("return warehouse inbound failed", RETURNING),
    "RT_WH_OUTBOUND": ("left the return warehouse", RETURNING),
    "RT_WH_HO_OUT": ("return warehouse handed it over", RETURNING),
    "RT_WH_DESTROY": ("destroyed in the return warehouse", EXCEPTION),
    "RT_TRANSWH_HO_IN": ("return transit warehouse received it", RETURNING),
    "RT_TRANSWH_INBOUND": ("arrived at the return transit warehouse", RETURNING),
    "RT_TRANSWH_OUTBOUND": ("left the return transit warehouse", RETURNING),
    "RT_TMS_ACCEPT": ("domestic carrier accepted the return", RETURNING),
}

# Families whose prefix alone says enough for a code the list lacks.
PREFIXES: tuple[tuple[str, Meaning], ...] = (
    ("CC_", CUSTOMS),
    ("CUSTOMS_", CUSTOMS),
    ("GWMS_", INFO),
    ("WMS_", INFO),
    ("RT_", RETURNING),
)

# The parcel's `status`, read only when it has no events yet (seen in answers, plus the obvious
# siblings of the delivered/return family).
MODULE_STATUSES: dict[str, Meaning] = {
    "SELLER_PREPARING": INFO,
    "WAIT_SELLER_SEND_GOODS": INFO,
    "PICKEDUP": TRANSIT,
    "SHIPPING": TRANSIT,
    "DEPART_FROM_ORIGINAL_COUNTRY": TRANSIT,
    "ARRIVED_AT_DEST_COUNTRY": TRANSIT,
    "CLEAR_CUSTOMS": CUSTOMS,
    "WAIT4SIGNIN": Meaning(_S.AT_POST_OFFICE),
    "DELIVERING": OUT,
    "DELIVERED": DELIVERED,
    "SIGNIN": DELIVERED,
    "RETURN": RETURNING,
    "RETURNED": RETURNING,
}

# Names Cainiao writes that ISO 3166 does not know by that name.
_COUNTRY_ALIASES = {
    "mainland china": "CN",
    "turkey": "TR",
    "korea": "KR",  # AliExpress ships to South Korea only
    "hong kong, china": "HK",
    "macao, china": "MO",
    "macau, china": "MO",
    "taiwan, china": "TW",
}


@lru_cache(maxsize=256)
def country_code(name: str) -> str:
    """ISO 3166 alpha-2 for a `destCountry` ("Israel", "Russia", "RU"); "" when unclear."""
    key = " ".join(name.split()).casefold()
    if not key:
        return ""
    if key in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[key]
    try:
        return str(pycountry.countries.lookup(key).alpha_2)
    except LookupError:
        pass
    try:
        found = pycountry.countries.search_fuzzy(key)
    except LookupError:
        return ""
    # Only an unambiguous fuzzy answer: a wrong country would raise a false alarm.
    return str(found[0].alpha_2) if len(found) == 1 else ""
