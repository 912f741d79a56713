"""Russian Post's operation codes: every operation type (OperType) and type/attribute pair
(OperAttr) the carrier publishes, read as our status, kind of pick-up point and buyer action.

Where the rows come from (docs/carrier-codes.md has the same table, with the sources per group):
the carrier's dictionary "Коды операций и атрибутов" (tracking.pochta.ru, support → dictionaries →
operation codes), as its types and pairs are listed in the tracking specification quoted in
github.com/LasGIS/Prototype (`SingleRu.tsx`), in a Russian Post tracking module of an open-source
shop engine (the full list of 52 types and their attributes, types 1-52), and in
a3mg/RussianPostBundle's RTM02 dictionaries (`ProcessType` = the attributes of type 8,
`AttemptDeliv` = the reasons of a failed delivery, types 12 and 42). The mapping onto statuses,
points and actions is ours.

Reading rules: a pair in `PAIRS` wins; else the type's row in `TYPES` (a type with no attribute,
attribute 0 where type 8 does not list it, or an attribute the carrier added since); an unknown
type is in_transit. Only unknown types and unlisted attributes are logged (by the plugin).
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.model import Action, Point, Status
from monitor.sourcekit import Meaning


@dataclass(frozen=True, slots=True)
class Operation:
    name: str  # the carrier's name of the operation, in English
    meaning: Meaning
    # "Storage ends in N days" operations: the keep-until day is the scan's day + N - 1 (the
    # earlier reading of "N days left": a day too early costs nothing, a day too late a return).
    storage_days: int | None = None


_S = Status
TRANSIT = Meaning(_S.IN_TRANSIT)
INFO = Meaning(_S.INFO_RECEIVED)
CUSTOMS = Meaning(_S.CUSTOMS)
DELIVERED = Meaning(_S.DELIVERED)
RETURNING = Meaning(_S.RETURNING)
EXCEPTION = Meaning(_S.EXCEPTION)
FAILED = Meaning(_S.DELIVERY_FAILED)
OUT = Meaning(_S.OUT_FOR_DELIVERY)
AT_OFFICE = Meaning(_S.AT_POST_OFFICE, Point.OFFICE)
AT_LOCKER = Meaning(_S.AT_POST_OFFICE, Point.LOCKER)
AT_PICKUP_POINT = Meaning(_S.AT_POST_OFFICE, Point.PICKUP_POINT)
AT_POINT = Meaning(_S.AT_POST_OFFICE)  # waiting for the buyer, the kind of place unsaid


def _op(name: str, meaning: Meaning, storage_days: int | None = None) -> Operation:
    return Operation(name, meaning, storage_days)


TYPES: dict[int, Operation] = {
    1: _op("Acceptance", TRANSIT),
    2: _op("Handed over", DELIVERED),
    3: _op("Return", RETURNING),
    4: _op("Forwarding", TRANSIT),
    5: _op("Non-delivery", EXCEPTION),
    6: _op("Storage", AT_OFFICE),
    7: _op("Temporary storage (undeliverable)", EXCEPTION),
    8: _op("Processing", TRANSIT),
    9: _op("Import of international mail", TRANSIT),
    10: _op("Export of international mail", TRANSIT),
    11: _op("Accepted by customs", CUSTOMS),
    12: _op("Failed delivery attempt", FAILED),
    13: _op("Dispatch registration", INFO),
    14: _op("Customs clearance", CUSTOMS),
    15: _op("Transfer to temporary storage", EXCEPTION),
    16: _op("Destruction", EXCEPTION),
    17: _op("Taken into ownership", EXCEPTION),
    18: _op("Loss registered", EXCEPTION),
    19: _op("Customs payments received", CUSTOMS),
    20: _op("Registration", INFO),
    21: _op("Delivery", DELIVERED),
    22: _op("Non-delivery to the address", FAILED),
    23: _op("Arrived in temporary storage", EXCEPTION),
    24: _op("Customs release period extended", CUSTOMS),
    25: _op("Opened", TRANSIT),
    26: _op("Cancellation", EXCEPTION),
    27: _op("Electronic registration received", INFO),
    28: _op("Identifier assigned", INFO),
    29: _op("Passage through an international exchange registered", TRANSIT),
    30: _op("SRM sent", TRANSIT),
    31: _op("Processing by a carrier", TRANSIT),
    32: _op("Arrival of an automated post office", TRANSIT),
    33: _op("International processing", TRANSIT),
    34: _op("Electronic notice loaded", TRANSIT),
    35: _op("Courier delivery refused", TRANSIT),
    36: _op("Delivery payment kind clarified", TRANSIT),
    37: _op("Preliminary registration", INFO),
    38: _op("Held for clarification with the sender", EXCEPTION),
    39: _op("Customs declaration", CUSTOMS),
    40: _op("Customs control", CUSTOMS),
    41: _op("Customs payments processing", CUSTOMS),
    42: _op("Second failed delivery attempt", FAILED),
    43: _op("Handing over allowed", TRANSIT),
    44: _op("Acceptance refused", EXCEPTION),
    45: _op("Recipient declined the electronic notice", TRANSIT),
    46: _op("Identifier assignment cancelled", EXCEPTION),
    47: _op("Acceptance possible, confirmed", INFO),
    48: _op("Partly handed over", DELIVERED),
    49: _op("Storage extension refused", AT_POINT),
    50: _op("Delivery to a parcel locker failed", FAILED),
    51: _op("Delivery to a pick-up point failed", FAILED),
    52: _op("Parcel locker cell reservation refused", TRANSIT),
}


def _duty(status: Status) -> Meaning:
    return Meaning(status, action=Action.DUTY_PAYMENT)


def _documents(status: Status = _S.CUSTOMS) -> Meaning:
    return Meaning(status, action=Action.CUSTOMS_DOCUMENTS)


_FAILED_ADDRESS = Meaning(_S.DELIVERY_FAILED, action=Action.ADDRESS)

# The reasons of a failed delivery attempt, shared by type 12 and type 42 (the second attempt).
_ATTEMPT_REASONS: dict[int, tuple[str, Meaning]] = {
    1: ("addressee temporarily absent", FAILED),
    2: ("delivery postponed at the addressee's request", FAILED),
    3: ("incomplete address", _FAILED_ADDRESS),
    4: ("wrong, unreadable or incomplete address", _FAILED_ADDRESS),
    5: ("addressee has left the address", _FAILED_ADDRESS),
    6: ("addressee refused the item", FAILED),
    7: ("force majeure", FAILED),
    8: ("other", FAILED),
    9: ("addressee will collect the item", FAILED),
    10: ("addressee not available", FAILED),
    11: ("delivery failed", FAILED),
    12: ("storage in the parcel locker expired", FAILED),
    13: ("at the sender's request", FAILED),
    14: ("item damaged or empty", FAILED),
    15: ("awaiting payment of a fee", Meaning(_S.DELIVERY_FAILED, action=Action.DUTY_PAYMENT)),
    16: ("addressee moved", _FAILED_ADDRESS),
    17: ("addressee has a PO box", FAILED),
    18: ("no home delivery", FAILED),
    19: ("does not meet customs requirements", _documents(_S.DELIVERY_FAILED)),
    20: ("incomplete, insufficient or wrong documents", _documents(_S.DELIVERY_FAILED)),
    21: ("cannot contact the customer", Meaning(_S.DELIVERY_FAILED, action=Action.OTHER)),
    22: ("addressee on strike", FAILED),
    23: ("prohibited contents, not delivered", FAILED),
    24: ("import refused, prohibited contents", FAILED),
    25: ("mis-sent", FAILED),
    26: ("addressee deceased", FAILED),
    27: ("national holiday", FAILED),
    28: ("lost", EXCEPTION),
}

PAIRS: dict[tuple[int, int], Operation] = {
    # 1 Acceptance
    (1, 1): _op("Acceptance: single", TRANSIT),
    (1, 2): _op("Acceptance: batch", TRANSIT),
    (1, 3): _op("Acceptance: batch, electronic", TRANSIT),
    (1, 4): _op("Acceptance: simplified single", TRANSIT),
    (1, 5): _op("Acceptance: by list at a distribution centre", TRANSIT),
    (1, 6): _op("Acceptance: by list at a sorting centre", TRANSIT),
    (1, 7): _op("Acceptance: simplified, pre-filled", TRANSIT),
    (1, 8): _op("Acceptance: simplified, prepaid", TRANSIT),
    # 2 Handed over; to the sender means the buyer will not get it
    (2, 1): _op("Handed over to the addressee", DELIVERED),
    (2, 2): _op("Handed over to the sender", RETURNING),
    (2, 3): _op("Handed to the addressee via a parcel locker", DELIVERED),
    (2, 4): _op("Handed to the sender via a parcel locker", RETURNING),
    (2, 5): _op("Handed to the addressee electronically", DELIVERED),
    (2, 6): _op("Handed to the addressee by a postman", DELIVERED),
    (2, 7): _op("Handed to the sender by a postman", RETURNING),
    (2, 8): _op("Handed to the addressee by a courier", DELIVERED),
    (2, 9): _op("Handed to the sender by a courier", RETURNING),
    (2, 10): _op("Handed to the addressee with reply control", DELIVERED),
    (2, 11): _op("Handed to the addressee with reply control, by a postman", DELIVERED),
    (2, 12): _op("Handed to the addressee with reply control, by a courier", DELIVERED),
    (2, 13): _op("Handed to the addressee by simple electronic signature", DELIVERED),
    (2, 14): _op("Handed over for digitising", DELIVERED),
    # 3 Return
    (3, 1): _op("Return: storage period expired", RETURNING),
    (3, 2): _op("Return: sender's request", RETURNING),
    (3, 3): _op("Return: addressee absent at the address", RETURNING),
    (3, 4): _op("Return: addressee refused", RETURNING),
    (3, 5): _op("Return: addressee deceased", RETURNING),
    (3, 6): _op("Return: address unreadable", RETURNING),
    (3, 7): _op("Return: customs refused release", RETURNING),
    (3, 8): _op("Return: PO box holder missing or wrong", RETURNING),
    (3, 9): _op("Return: other circumstances", RETURNING),
    (3, 10): _op("Return: wrong address", RETURNING),
    (3, 11): _op("Return: contents incomplete", RETURNING),
    (3, 12): _op("Return: forbidden by aviation security", RETURNING),
    (3, 13): _op("Return: for customs operations", RETURNING),
    (3, 14): _op("Return: marketplace's order", RETURNING),
    (3, 15): _op("Return: partly bought out", RETURNING),
    # 4 Forwarding
    (4, 1): _op("Forwarding: user's request", TRANSIT),
    (4, 2): _op("Forwarding: addressee moved to a new address", TRANSIT),
    (4, 3): _op("Forwarding: mis-sent", TRANSIT),
    (4, 4): _op("Forwarding: forbidden by aviation security", TRANSIT),
    (4, 5): _op("Forwarding: to temporary storage", EXCEPTION),
    (4, 6): _op("Forwarding: to undeliverable mail", EXCEPTION),
    (4, 7): _op("Forwarding: technical reasons", TRANSIT),
    # 5 Non-delivery
    (5, 1): _op("Non-delivery: lost", EXCEPTION),
    (5, 2): _op("Non-delivery: seized", EXCEPTION),
    (5, 3): _op("Non-delivery: mis-sent", EXCEPTION),
    (5, 8): _op("Non-delivery: customs decision", EXCEPTION),
    # 6 Storage at the office
    (6, 1): _op("Storage: poste restante", AT_OFFICE),
    (6, 2): _op("Storage: to a PO box", AT_OFFICE),
    (6, 3): _op("Storage: standard storage period", AT_OFFICE),
    (6, 4): _op("Storage: extended at the addressee's request", AT_OFFICE),
    (6, 5): _op("Storage: extended at the sender's request", AT_OFFICE),
    # 7 Temporary storage of undeliverable items
    (7, 1): _op("Temporary storage: undeliverable", EXCEPTION),
    (7, 2): _op("Temporary storage: unclaimed", EXCEPTION),
    (7, 3): _op("Temporary storage: contents forbidden", EXCEPTION),
    (7, 4): _op("Temporary storage: awaiting examination results", EXCEPTION),
    # 8 Processing
    (8, 0): _op("Sorting", TRANSIT),
    (8, 1): _op("Left the place of acceptance", TRANSIT),
    (8, 2): _op("Arrived at the place of delivery", AT_OFFICE),
    (8, 3): _op("Arrived at a sorting centre", TRANSIT),
    (8, 4): _op("Left a sorting centre", TRANSIT),
    (8, 5): _op("Arrived at an international exchange", TRANSIT),
    (8, 6): _op("Left an international exchange", TRANSIT),
    (8, 7): _op("Arrived at a transit point", TRANSIT),
    (8, 8): _op("Left a transit point", TRANSIT),
    (8, 9): _op("Arrived at a parcel locker", AT_LOCKER),
    (8, 10): _op("Storage in the parcel locker ends soon", AT_LOCKER),
    (8, 11): _op("Redirected to a parcel locker", TRANSIT),
    (8, 12): _op("Taken out of the parcel locker", TRANSIT),
    (8, 13): _op("Arrived in Russia", TRANSIT),
    (8, 14): _op("Arrived at a parcel pick-up centre", AT_PICKUP_POINT),
    (8, 15): _op("Handed to a courier (driver)", OUT),
    (8, 16): _op("Delivered for handing over electronically", AT_OFFICE),
    (8, 17): _op("Sent to a hybrid print centre", TRANSIT),
    (8, 18): _op("Handed to a postman", OUT),
    (8, 19): _op("Put into the storeroom", AT_OFFICE),
    (8, 20): _op("Left the place of return or forwarding", TRANSIT),
    (8, 21): _op("Address being clarified", Meaning(_S.IN_TRANSIT, action=Action.ADDRESS)),
    (8, 22): _op("Awaiting courier delivery", TRANSIT),
    (8, 23): _op("Storage period extended", AT_OFFICE),
    (8, 24): _op("Notice sent", AT_OFFICE),
    (8, 25): _op("Notice delivered", AT_OFFICE),
    (8, 26): _op("Registered under a new number", TRANSIT),
    (8, 27): _op("Storage ends soon (25 days left)", AT_POINT, 25),
    (8, 28): _op("Storage ends soon (5 days left)", AT_POINT, 5),
    (8, 29): _op("Under technical examination", EXCEPTION),
    (8, 30): _op("Arrived at a hybrid print centre", TRANSIT),
    (8, 31): _op("Left a hybrid print centre", TRANSIT),
    (8, 32): _op("Sent to delivery control", TRANSIT),
    (8, 33): _op("Storage ends soon (23 days left)", AT_POINT, 23),
    (8, 34): _op("Data entry completed", TRANSIT),
    (8, 35): _op("Storage ends soon (10 days left)", AT_POINT, 10),
    (8, 36): _op("Return request registered", EXCEPTION),
    (8, 37): _op("Sender's storage extension request registered", AT_OFFICE),
    (8, 38): _op("Addressee's storage extension request registered", AT_OFFICE),
    (8, 39): _op("Handed in at a pick-up point", AT_PICKUP_POINT),
    (8, 40): _op("Storage period expired", RETURNING),
    (8, 41): _op("Return made up", RETURNING),
    (8, 42): _op("Storage ends soon (1 day left)", AT_POINT, 1),
    (8, 43): _op("Storage ends soon (2 days left)", AT_POINT, 2),
    (8, 44): _op("Handed in at a sorting centre", TRANSIT),
    (8, 45): _op("Reserved", TRANSIT),
    (8, 46): _op("Reserved", TRANSIT),
    (8, 47): _op("Processing suspended under law 115-FZ", EXCEPTION),
    (8, 48): _op("Storage place assigned", AT_OFFICE),
    (8, 49): _op("Sent to a pick-up point", TRANSIT),
    # 12, 42 Failed delivery attempts: below, from _ATTEMPT_REASONS
    # 14 Customs clearance
    (14, 1): _op("Customs: released", TRANSIT),
    (14, 2): _op("Customs: returned by customs", RETURNING),
    (14, 3): _op("Customs: examined", CUSTOMS),
    (14, 4): _op("Customs: release refused", CUSTOMS),
    (14, 5): _op("Customs: sent on with a customs notice", _duty(_S.IN_TRANSIT)),
    (14, 6): _op("Customs: sent on with customs payments due", _duty(_S.IN_TRANSIT)),
    (14, 7): _op("Customs: inspection required", CUSTOMS),
    (14, 8): _op("Customs: release suspended", CUSTOMS),
    (14, 9): _op("Customs: intake refused", CUSTOMS),
    (14, 10): _op("Customs: examined with inspection equipment", CUSTOMS),
    (14, 11): _op("Customs: control under the risk management system", CUSTOMS),
    (14, 12): _op("Customs: inspection completed", CUSTOMS),
    (14, 13): _op("Customs: released, payments paid", TRANSIT),
    (14, 14): _op("Customs: release refused, payments not paid", _duty(_S.CUSTOMS)),
    (14, 15): _op("Customs: declaration failed the format check", _documents()),
    (14, 16): _op("Customs: released, funds reserved", TRANSIT),
    (14, 17): _op("Customs: release refused by an official", CUSTOMS),
    (14, 18): _op("Customs: must be presented to the customs office", _documents()),
    (14, 19): _op("Customs: automatic release refused", CUSTOMS),
    (14, 20): _op("Customs: release refused, goods not presented", CUSTOMS),
    (14, 21): _op("Customs: examination results required", CUSTOMS),
    (14, 22): _op("Customs: return allowed", RETURNING),
    (14, 23): _op("Customs: release of returned goods refused", CUSTOMS),
    (14, 24): _op("Customs: X-ray required", CUSTOMS),
    (14, 25): _op("Customs: export refused", CUSTOMS),
    (14, 26): _op("Customs: export allowed", TRANSIT),
    # 21 Delivery to the address
    (21, 1): _op("Delivery: into the letter box", DELIVERED),
    (21, 2): _op("Delivery: into the addressee's hands against signature", DELIVERED),
    (21, 3): _op("Delivery: to the reception against signature", DELIVERED),
    # 22 Non-delivery to the address
    (22, 1): _op("Not delivered: no letter box", FAILED),
    (22, 2): _op("Not delivered: no such street, house or flat", _FAILED_ADDRESS),
    (22, 3): _op("Not delivered: postcode does not match the office", _FAILED_ADDRESS),
    (22, 4): _op("Not delivered: wrong or non-existent address", _FAILED_ADDRESS),
    (22, 5): _op("Not delivered: refused", FAILED),
    (22, 6): _op("Not delivered: no access to the address", FAILED),
    (22, 7): _op("Not delivered: organisation moved", _FAILED_ADDRESS),
    (22, 8): _op("Not delivered: addressee moved", _FAILED_ADDRESS),
    (22, 9): _op("Not delivered: did not fit into the letter box", FAILED),
    # 24 Customs release period extended
    (24, 1): _op("Customs extension: veterinary control", CUSTOMS),
    (24, 2): _op("Customs extension: phytosanitary control", CUSTOMS),
    (24, 3): _op("Customs extension: samples taken", CUSTOMS),
    (24, 4): _op("Customs extension: other", CUSTOMS),
    (24, 1019): _op("Customs extension: prohibited items", CUSTOMS),
    (24, 1020): _op("Customs extension: import restrictions on the contents", CUSTOMS),
    (24, 1050): _op("Customs extension: invoice missing", _documents()),
    (24, 1051): _op("Customs extension: invoice incorrect", _documents()),
    (24, 1052): _op("Customs extension: certificate missing or incorrect", _documents()),
    (24, 1053): _op("Customs extension: certificate incorrect", _documents()),
    (24, 1054): _op("Customs extension: declaration missing or incorrect", _documents()),
    (24, 1055): _op("Customs extension: CN 22/23 incorrect", _documents()),
    (24, 1056): _op("Customs extension: high value, declaration required", _documents()),
    (24, 1057): _op(
        "Customs extension: customer cannot be contacted",
        Meaning(_S.CUSTOMS, action=Action.OTHER),
    ),
    (24, 1058): _op("Customs extension: awaiting transfer to customs", CUSTOMS),
    (24, 1059): _op("Customs extension: VAT or import number required", _documents()),
    (24, 1060): _op("Customs extension: certificate for returned contents required", _documents()),
    (24, 1061): _op("Customs extension: bank transfer form required", _duty(_S.CUSTOMS)),
    (24, 1062): _op("Customs extension: incomplete consignment", CUSTOMS),
    (24, 1063): _op("Customs extension: transferred to customs", CUSTOMS),
    (24, 1064): _op("Customs extension: held by customs, no reason given", CUSTOMS),
    (24, 1065): _op(
        "Customs extension: value confirmation from the recipient awaited", _documents()
    ),
    (24, 1070): _op("Customs extension: export restrictions on the contents", CUSTOMS),
    (24, 1073): _op("Customs extension: incomplete or incorrect documents", _documents()),
    # 26 Cancellation
    (26, 1): _op("Cancellation: sender's request", EXCEPTION),
    (26, 2): _op("Cancellation: operator's error", EXCEPTION),
    # 31 Processing by a carrier (an airline's scans: "delivered" is to the next post)
    (31, 1): _op("Carrier: transport arrived", TRANSIT),
    (31, 5): _op("Carrier: booking confirmed", TRANSIT),
    (31, 6): _op("Carrier: included in the loading plan", TRANSIT),
    (31, 7): _op("Carrier: excluded from the loading plan", TRANSIT),
    (31, 14): _op("Carrier: transport leg completed", TRANSIT),
    (31, 21): _op("Carrier: delivered to the destination post", TRANSIT),
    (31, 23): _op("Carrier: mail at destination", TRANSIT),
    (31, 24): _op("Carrier: loaded on board", TRANSIT),
    (31, 31): _op("Carrier: en route", TRANSIT),
    (31, 40): _op("Carrier: arrived at the carrier's warehouse", TRANSIT),
    (31, 41): _op("Carrier: transhipment", TRANSIT),
    (31, 42): _op("Carrier: handed to another carrier", TRANSIT),
    (31, 43): _op("Carrier: received from another carrier", TRANSIT),
    (31, 48): _op("Carrier: loaded", TRANSIT),
    (31, 57): _op("Carrier: not loaded", TRANSIT),
    (31, 59): _op("Carrier: unloaded", TRANSIT),
    (31, 74): _op("Carrier: accepted for carriage", TRANSIT),
    (31, 82): _op("Carrier: returned", TRANSIT),
    # 33 International processing
    (33, 1): _op("International: handed to the carrier", TRANSIT),
    (33, 2): _op("International: received by the designated operator", TRANSIT),
    (33, 3): _op("International: processed by the designated operator", TRANSIT),
    # 35 Courier delivery refused (the item waits at the office instead)
    (35, 1): _op("No courier delivery: kind of item not delivered", TRANSIT),
    (35, 2): _op("No courier delivery: over the weight limit", TRANSIT),
    (35, 3): _op("No courier delivery: over the size limit", TRANSIT),
    (35, 4): _op("No courier delivery: defective item", TRANSIT),
    (35, 5): _op("No courier delivery: customs notice attached", _duty(_S.IN_TRANSIT)),
    (35, 6): _op("No courier delivery: no cash-on-delivery agreement", TRANSIT),
    (35, 7): _op("No courier delivery: returned item", TRANSIT),
    (35, 8): _op("No courier delivery: cash on delivery over the home limit", TRANSIT),
    (35, 9): _op("No courier delivery: forms wrong or missing", TRANSIT),
    # 36 Delivery payment kind
    (36, 0): _op("Delivery payment: included in the tariff", TRANSIT),
    (36, 1): _op("Delivery payment: paid", TRANSIT),
    (36, 2): _op("Delivery payment: prepaid", TRANSIT),
    # 38 Held for clarification with the sender
    (38, 4): _op("Held for the sender: wrong, unreadable or incomplete address", EXCEPTION),
    (38, 13): _op("Held for the sender: at the sender's request", EXCEPTION),
    (38, 25): _op("Held for the sender: mis-sent", EXCEPTION),
    # 39 Customs declaration
    (39, 1): _op("Declaration: registered", CUSTOMS),
    (39, 2): _op("Declaration: preliminary decision, release allowed", CUSTOMS),
    (39, 3): _op("Declaration: release refused, presentation required", _documents()),
    (39, 4): _op("Declaration: release refused, presentation with inspection", _documents()),
    (39, 5): _op("Declaration: registration refused", _documents()),
    (39, 6): _op("Declaration: release refused, goods not presented", CUSTOMS),
    (39, 7): _op("Declaration: marketplace data received", CUSTOMS),
    (39, 8): _op("Declaration: release allowed", TRANSIT),
    (39, 9): _op("Declaration: release refused", CUSTOMS),
    # 40 Customs control
    (40, 1): _op("Customs control: payments paid", CUSTOMS),
    (40, 2): _op("Customs control: notice of control", CUSTOMS),
    (40, 3): _op("Customs control: release refused by an official", CUSTOMS),
    # 41 Customs payments
    (41, 1): _op("Customs payments: withheld by the post", CUSTOMS),
    (41, 2): _op("Customs payments: debited by the customs service", CUSTOMS),
    (41, 3): _op("Customs payments: amount to be withheld", _duty(_S.CUSTOMS)),
    (41, 4): _op("Customs payments: withheld by the post in full", CUSTOMS),
    (41, 5): _op("Customs payments: amount calculated", _duty(_S.CUSTOMS)),
    (41, 6): _op("Customs payments: withheld by the customs service in full", CUSTOMS),
    # 49 Storage extension refused
    (49, 1): _op("No storage extension: already handed over", AT_POINT),
    (49, 2): _op("No storage extension: request received twice", AT_POINT),
    (49, 3): _op("No storage extension: requested later than 24 h before the end", AT_POINT),
    (49, 4): _op("No storage extension: corporate client's debt", AT_POINT),
    (49, 5): _op("No storage extension: the online shop forbids it", AT_POINT),
    (49, 6): _op("No storage extension: pick-up point closed", AT_PICKUP_POINT),
    # 50 Delivery to a parcel locker failed
    (50, 1): _op("Locker delivery failed: no locker", FAILED),
    (50, 2): _op("Locker delivery failed: locker out of order", FAILED),
    (50, 3): _op("Locker delivery failed: no access to the locker", FAILED),
    (50, 4): _op("Locker delivery failed: courier ran out of time", FAILED),
    (50, 5): _op("Locker delivery failed: no free cells", FAILED),
    (50, 6): _op("Locker delivery failed: courier could not load it", FAILED),
    (50, 7): _op("Locker delivery failed: the cell is too small", FAILED),
    # 51 Delivery to a pick-up point failed
    (51, 1): _op("Pick-up point delivery failed: temporarily closed", FAILED),
    (51, 2): _op("Pick-up point delivery failed: closed for good", FAILED),
    (51, 3): _op("Pick-up point delivery failed: the point refused it", FAILED),
    (51, 4): _op("Pick-up point delivery failed: courier ran out of time", FAILED),
}
for _type, _prefix in ((12, "Failed attempt"), (42, "Second failed attempt")):
    for _attr, (_reason, _meaning) in _ATTEMPT_REASONS.items():
        PAIRS[(_type, _attr)] = _op(f"{_prefix}: {_reason}", _meaning)
