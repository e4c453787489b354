"""What the demo people are drawn from: Vietnamese and English names with rough shares
of the population, cities, member levels, sources, e-mail domains, phone prefixes, stores,
the custom fields, tags, segments, groups, consent and linked objects of the demo
workspace. Data only (and `ascii_name` for made-up e-mail addresses)."""

from __future__ import annotations

import unicodedata

# ---------------------------------------------------------------- vocabulary
VN_FAMILY = [  # with rough shares of the population, so lists look familiar
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9.5),
    ("Phạm", 7),
    ("Hoàng", 4),
    ("Huỳnh", 4),
    ("Phan", 4.5),
    ("Vũ", 3),
    ("Võ", 3),
    ("Đặng", 2.1),
    ("Bùi", 2),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1),
    ("Lý", 0.5),
]
VN_MIDDLE = {
    "Female": ["Thị", "Ngọc", "Thu", "Thanh", "Minh", "Bảo", "Khánh"],
    "Male": ["Văn", "Minh", "Đức", "Quốc", "Hữu", "Thành", "Gia"],
}
VN_GIVEN = {
    "Female": [
        "Linh",
        "Trang",
        "Hương",
        "Lan",
        "Mai",
        "Ngọc",
        "Thảo",
        "Hà",
        "Anh",
        "Phương",
        "Vy",
        "Nhung",
        "Hạnh",
        "Yến",
        "Trâm",
        "Chi",
        "My",
        "Quỳnh",
        "Hoa",
        "Uyên",
    ],
    "Male": [
        "Anh",
        "Minh",
        "Tuấn",
        "Hùng",
        "Dũng",
        "Nam",
        "Huy",
        "Khoa",
        "Long",
        "Phúc",
        "Quang",
        "Sơn",
        "Thắng",
        "Bảo",
        "Đạt",
        "Hiếu",
        "Khang",
        "Trung",
        "Vinh",
        "Tâm",
    ],
}
EN_FIRST = {
    "Female": [
        "Emma",
        "Olivia",
        "Sophia",
        "Isabella",
        "Mia",
        "Charlotte",
        "Amelia",
        "Grace",
        "Chloe",
        "Emily",
        "Hannah",
        "Lucy",
        "Sarah",
        "Jessica",
        "Anna",
    ],
    "Male": [
        "James",
        "John",
        "Michael",
        "David",
        "Daniel",
        "Thomas",
        "William",
        "Oliver",
        "Henry",
        "Lucas",
        "Jack",
        "Ryan",
        "Samuel",
        "Peter",
        "Mark",
    ],
}
EN_LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Taylor",
    "Clark",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
]
VN_CITIES = [
    ("Hồ Chí Minh", 30),
    ("Hà Nội", 25),
    ("Đà Nẵng", 8),
    ("Hải Phòng", 6),
    ("Cần Thơ", 5),
    ("Biên Hòa", 4),
    ("Nha Trang", 3.5),
    ("Huế", 3),
    ("Vũng Tàu", 3),
    ("Quy Nhơn", 2.5),
    ("Đà Lạt", 2.5),
    ("Buôn Ma Thuột", 2),
    ("Hạ Long", 2),
    ("Vinh", 2),
    ("Thủ Đức", 1.5),
]
ABROAD_CITIES = [("Singapore", 30), ("Sydney", 15), ("London", 15), ("New York", 10), ("Bangkok", 15), ("Seoul", 15)]
MEMBER_LEVELS = [("Bronze", 50), ("Silver", 28), ("Gold", 15), ("Platinum", 5)]
INITIAL_SOURCES = [
    ("Website signup", 35),
    ("Store POS", 25),
    ("Mobile app", 20),
    ("Facebook lead form", 10),
    ("Event registration", 5),
    ("Partner list 2023.xlsx", 5),
]
EMAIL_DOMAINS = [
    ("gmail.com", 55),
    ("yahoo.com", 10),
    ("outlook.com", 10),
    ("icloud.com", 6),
    ("hotmail.com", 6),
    ("fpt.vn", 4),
    ("vnn.vn", 3),
    ("company.com.vn", 6),
]
# 2-digit Vietnamese mobile prefixes after +84 (9 national digits in all)
PHONE_PREFIXES = [
    "90",
    "91",
    "93",
    "94",
    "96",
    "97",
    "98",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "38",
    "39",
    "70",
    "76",
    "77",
    "78",
    "79",
    "81",
    "82",
    "83",
    "84",
    "85",
    "86",
    "88",
]
STORES = [
    "Vincom Đồng Khởi",
    "Aeon Mall Tân Phú",
    "Crescent Mall",
    "Vincom Bà Triệu",
    "Lotte Mart Đà Nẵng",
    "Big C Thăng Long",
    "Online store",
    "Mobile app store",
]

# custom attributes the seed fills: key, label, type
CUSTOM_FIELDS = [("loyalty_points", "Loyalty points", "number"), ("preferred_store", "Preferred store", "text")]

# tag group -> [(tag name, kind, values or [""])]
TAG_CATALOG: dict[str, list[tuple[str, str, list[str]]]] = {
    "Lifecycle": [("Stage", "text", ["New", "Active", "Loyal", "At risk", "Churned"])],
    "Interests": [
        ("Interest", "multi", ["Fashion", "Beauty", "Electronics", "Home & living", "Sports", "Travel", "Food & drink"])
    ],
    "Campaigns": [
        ("Newsletter subscriber", "text", [""]),
        ("Tet 2025 promo", "text", ["Received", "Clicked", "Purchased"]),
    ],
}
SEGMENTS = {
    "RFM tier": ["Champions", "Loyal", "Potential", "At risk", "Hibernating"],
    "Churn risk": ["Low", "Medium", "High"],
    "Last purchase channel": ["Online", "Store", "App"],
}
GROUPS = {
    "VIP Club": "Gold and Platinum members invited to VIP events",
    "Beta testers": "Customers who try the mobile app's new features first",
    "Store events Hà Nội": "Invitations to in-store events in Hà Nội",
}
CONSENT_CHANNELS = [("email", 0.6), ("sms", 0.4), ("push", 0.2), ("phone", 0.1)]
CONSENT_STATUSES = [("granted", 70), ("denied", 20), ("unknown", 10)]
CONSENT_SOURCES = [("Website signup form", 50), ("Store POS", 25), ("Mobile app settings", 25)]
LINKED_OBJECTS = {  # kind: (share of profiles, external id prefix, names)
    "account": (
        0.20,
        "ACC",
        ["Loyalty card account", "Online store account", "Family plan account", "Corporate gift account"],
    ),
    "opportunity": (
        0.08,
        "OPP",
        ["Upgrade to Gold membership", "Annual skincare bundle", "Corporate order for Tet", "Home appliance upsell"],
    ),
    "ticket": (
        0.12,
        "TCK",
        ["Late delivery", "Refund request", "Damaged item on arrival", "Points not credited", "Change of address"],
    ),
    "task": (
        0.06,
        "TSK",
        ["Call back about warranty", "Send birthday voucher", "Confirm store pickup", "Follow up on survey"],
    ),
}


def ascii_name(text: str) -> str:
    """'Nguyễn' -> 'nguyen': the local part of a made-up e-mail address."""
    folded = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in folded if c.isascii() and c.isalnum()).lower()
