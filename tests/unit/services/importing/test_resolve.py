"""Who each row is: people inside one file, and the existing profiles they match (SQLite and PostgreSQL)."""

import polars as pl

from profile_ui.services.importing import ROW_COL
from profile_ui.services.importing.resolve import (
    CLASS_COL,
    MATCHED_BY_COL,
    MATCHES_COL,
    PERSON_COL,
    resolve_identities,
)

from .frames import seed_profiles, validated


def _by_row(frame: pl.DataFrame, column: str) -> dict:
    return dict(frame.select(ROW_COL, column).iter_rows())


def test_rows_sharing_any_identifier_are_one_person(session):
    frame = validated(
        [
            {"email": "a@x.com", "phone": "+8491"},  # row 2
            {"email": "b@x.com", "phone": "+8491"},  # row 3: shares the phone with row 2
            {"email": "b@x.com"},  # row 4: shares the email with row 3
            {"email": "c@x.com", "phone": "+8492"},  # row 5: someone else
            {"phone": "+8492", "user_id": "u5"},  # row 6: shares the phone with row 5
        ]
    )
    out = resolve_identities(frame, session=session, identifier_kinds=["user_id", "email", "phone"])
    person = _by_row(out, PERSON_COL)
    assert person[2] == person[3] == person[4] == 2
    assert person[5] == person[6] == 5
    assert set(_by_row(out, CLASS_COL).values()) == {"new"}


def test_a_long_chain_of_rows_is_still_one_person(session):
    # rows 2k and 2k+1 share an e-mail, rows 2k+1 and 2k+2 a phone: 400 rows, one person,
    # and a second chain that never touches the first
    rows = [{"email": f"e{i // 2}@x.com", "phone": f"+849{(i + 1) // 2:05d}"} for i in range(400)]
    rows += [{"email": f"other{i // 2}@x.com", "phone": f"+848{(i + 1) // 2:05d}"} for i in range(10)]
    out = resolve_identities(validated(rows), session=session, identifier_kinds=["email", "phone"])
    person = _by_row(out, PERSON_COL)
    assert {person[r] for r in range(2, 402)} == {2}
    assert {person[r] for r in range(402, 412)} == {402}


def test_invalid_rows_are_nobody(session):
    frame = validated([{"email": "a@x.com"}, {"email": "a@x.com", "errors": [("Phone", "bad")]}])
    out = resolve_identities(frame, session=session, identifier_kinds=["email"])
    assert _by_row(out, PERSON_COL) == {2: 2, 3: None}
    assert _by_row(out, CLASS_COL) == {2: "new", 3: "invalid"}


def test_matches_by_email_phone_or_user_id_reported_in_sync_rule_order(session):
    ann, bob, cy = seed_profiles(
        session,
        [
            {"full_name": "Ann", "email": "ann@x.com", "phone": "+8401"},
            {"full_name": "Bob", "phone": "+8402"},
            {"full_name": "Cy", "user_id": "u3", "email": "cy@x.com"},
        ],
    )
    frame = validated(
        [
            {"email": "ann@x.com", "phone": "+8401"},  # both point at Ann
            {"phone": "+8402"},  # Bob by phone
            {"user_id": "u3", "email": "cy@x.com"},  # Cy by user id and e-mail
        ]
    )
    out = resolve_identities(frame, session=session, identifier_kinds=["user_id", "email", "phone"])
    assert _by_row(out, MATCHES_COL) == {2: [ann], 3: [bob], 4: [cy]}
    assert _by_row(out, MATCHED_BY_COL) == {2: "email", 3: "phone", 4: "user_id"}
    assert set(_by_row(out, CLASS_COL).values()) == {"match"}

    phone_first = resolve_identities(frame, session=session, identifier_kinds=["phone", "email", "user_id"])
    assert _by_row(phone_first, MATCHED_BY_COL) == {2: "phone", 3: "phone", 4: "email"}


def test_only_the_sync_rules_kinds_match(session):
    (ann,) = seed_profiles(session, [{"full_name": "Ann", "phone": "+8401"}])
    frame = validated([{"email": "new@x.com", "phone": "+8401"}])
    by_email_only = resolve_identities(frame, session=session, identifier_kinds=["email"])
    assert _by_row(by_email_only, CLASS_COL) == {2: "new"}
    assert _by_row(by_email_only, "__owner__:phone") == {2: ann}  # still known: apply will not steal it
    assert _by_row(resolve_identities(frame, session=session, identifier_kinds=["email", "phone"]), MATCHES_COL) == {
        2: [ann]
    }


def test_two_different_profiles_is_a_conflict(session):
    ann, bob = seed_profiles(
        session, [{"full_name": "Ann", "email": "ann@x.com"}, {"full_name": "Bob", "phone": "+8402"}]
    )
    frame = validated([{"email": "ann@x.com", "phone": "+8402"}])
    out = resolve_identities(frame, session=session, identifier_kinds=["email", "phone"])
    assert _by_row(out, CLASS_COL) == {2: "conflict"}
    assert _by_row(out, MATCHES_COL) == {2: sorted([ann, bob])}


def test_rows_leading_to_the_same_profile_are_one_person(session):
    (ann,) = seed_profiles(session, [{"full_name": "Ann", "email": "ann@x.com", "phone": "+8401"}])
    frame = validated([{"email": "ann@x.com", "city": "Hue"}, {"phone": "+8401", "city": "Hanoi"}])
    out = resolve_identities(frame, session=session, identifier_kinds=["email", "phone"])
    assert _by_row(out, PERSON_COL) == {2: 2, 3: 2}
    assert _by_row(out, MATCHES_COL) == {2: [ann], 3: [ann]}


def test_a_row_without_an_identifier_the_rule_uses(session):
    frame = validated([{"loyalty_id": "L1", "full_name": "Ann"}])
    out = resolve_identities(frame, session=session, identifier_kinds=["email"])
    assert _by_row(out, CLASS_COL) == {2: "no_identifier"}
