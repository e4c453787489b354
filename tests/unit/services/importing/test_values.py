"""Value mapping for choice fields: "map values with matching words", leftovers, distinct values."""

from __future__ import annotations

import polars as pl
import pytest

from profile_ui.services.importing.values import distinct_values, match_values, unmapped_values

GENDER = ["Male", "Female", "Other"]
LEVELS = ["Bronze", "Silver", "Gold", "Platinum"]


@pytest.mark.parametrize(
    ("raw", "option"),
    [
        ("male", "Male"),
        ("FEMALE", "Female"),
        (" other ", "Other"),  # case and spaces
        ("M", "Male"),
        ("m", "Male"),
        ("Nam", "Male"),
        ("男", "Male"),
        ("man", "Male"),
        ("Homme", "Male"),
        ("F", "Female"),
        ("Nữ", "Female"),
        ("NU", "Female"),
        ("女", "Female"),
        ("Femenino", "Female"),
        ("Khác", "Other"),
        ("khac", "Other"),
        ("O", "Other"),
    ],
)
def test_gender_values_match_by_case_accents_and_synonyms(raw, option):
    assert match_values([raw], GENDER) == {raw: option}


@pytest.mark.parametrize(
    ("raw", "option"),
    [
        ("gold", "Gold"),
        ("Vàng", "Gold"),
        ("Bạc", "Silver"),
        ("Đồng", "Bronze"),
        ("Bạch kim", "Platinum"),
        ("Plat", "Platinum"),
        ("silv", "Silver"),
        ("Gold member", "Gold"),  # prefixes
    ],
)
def test_member_levels_match_by_synonym_or_prefix(raw, option):
    assert match_values([raw], LEVELS) == {raw: option}


def test_accent_insensitive_on_the_option_side_too():
    assert match_values(["Ha Noi", "HỒ CHÍ MINH", "da nang"], ["Hà Nội", "Hồ Chí Minh", "Đà Nẵng"]) == {
        "Ha Noi": "Hà Nội",
        "HỒ CHÍ MINH": "Hồ Chí Minh",
        "da nang": "Đà Nẵng",
    }


def test_unsure_values_are_left_for_the_user():
    raws = ["S", "st", "Diamond", "", "Gold", "x"]
    matched = match_values(raws, ["Silver", "Standard", "Gold"])
    assert matched == {"st": "Standard", "Gold": "Gold"}  # "S": too short and ambiguous
    assert unmapped_values(raws, matched) == ["S", "Diamond", "", "x"]


def test_a_synonym_needs_its_option_to_exist():
    assert match_values(["M", "Nam"], ["Yes", "No"]) == {}
    assert match_values(["có", "Không", "Y"], ["Yes", "No"]) == {"có": "Yes", "Không": "No", "Y": "Yes"}


def test_unmapped_values_respects_a_user_edited_map():
    raws = ["Nam", "Nữ", "?"]
    value_map = match_values(raws, GENDER) | {"?": "Other"}
    assert unmapped_values(raws, value_map) == []


def test_distinct_values_most_frequent_first_trimmed_and_limited():
    frame = pl.DataFrame({"Gender": [" Nam", "Nữ", "Nam ", None, "", "Nữ", "Nam", "X"]})
    assert distinct_values(frame, "Gender") == ["Nam", "Nữ", "X"]
    assert distinct_values(frame, "Gender", limit=1) == ["Nam"]


def test_distinct_values_of_a_multiple_choice_column():
    frame = pl.DataFrame({"Hobbies": ["Sport|Music", "music; Travel", None, "Sport"]})
    assert distinct_values(frame, "Hobbies", separators="|;") == ["Sport", "Music", "Travel", "music"]


def test_same_values_are_only_those_equal_to_an_option_ignoring_case_and_accents():
    from profile_ui.services.importing.values import same_values

    options = ["Bronze", "Silver", "Gold", "Bạc"]
    raws = ["Silver", "GOLD ", "silver", "bac", "vàng", "Plat", "", "Gold member"]
    # synonyms ("vàng"), prefixes ("Plat", "Gold member") wait for "map values with matching words"
    assert same_values(raws, options) == {"Silver": "Silver", "GOLD ": "Gold", "silver": "Silver", "bac": "Bạc"}
