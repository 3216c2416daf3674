"""PHI detection in English and Chinese: patterns with validation, context, dictionaries."""

from __future__ import annotations

import pytest

from medai.core.errors import InvalidInputError
from medai.privacy.chinese import valid_id_card
from medai.privacy.phi import Span, parse_types, resolve


def _found(deid, text: str, lang: str | None = None) -> dict[str, str]:
    return {s.text: s.type for s in deid.find(text, lang)}


def test_english_identifiers(rules) -> None:
    text = ("Patient: Rose Whitaker  MRN: 00482913  DOB: 03/14/1931\n"
            "Mr. Okafor, 92-year-old, seen by Dr. Alan Reyes on March 5th, 2023.\n"
            "Wife Maria at (617) 555-0142 x231. Lives at 1420 W. Maple Ave, Apt 3B, "
            "Springfield, IL 62704. rose.w@gmail.com, https://mychart.example.org/login, "
            "pump IP 10.2.33.4, SSN 123-45-6789, seen at Mercy General Hospital.")  # fmt: skip
    found = _found(rules, text)
    expect = {"Rose Whitaker": "NAME", "00482913": "ID", "03/14/1931": "DATE", "Okafor": "NAME",
              "92": "AGE", "Alan Reyes": "NAME", "March 5th, 2023": "DATE", "Maria": "NAME",
              "(617) 555-0142 x231": "PHONE", "1420 W. Maple Ave, Apt 3B": "ADDRESS",
              "Springfield": "CITY", "62704": "ZIP", "rose.w@gmail.com": "EMAIL",
              "https://mychart.example.org/login": "URL", "10.2.33.4": "IP",
              "123-45-6789": "SSN", "Mercy General Hospital": "INSTITUTION"}  # fmt: skip
    assert {k: found.get(k) for k in expect} == expect


def test_english_look_alikes_stay(rules) -> None:
    text = ("Strength 5/5, pain 3/10, BP 120/80, take 1/2 tab. 45-year-old with Parkinson "
            "disease since 2019. Foley placed. Will continue lisinopril 10 mg. Age 89. "
            "Transferred to the ICU. SSN-like 000-12-3456 and 999-45-6789 are not issued.")  # fmt: skip
    assert rules.find(text, "en") == []


def test_chinese_identifiers(rules) -> None:
    text = ("姓名：张伟  性别：男  年龄：92岁  住院号：ZY2023051234\n"
            "身份证号：511501195402133875  联系电话：13812345678  家属：其妻王芳，电话0571-88886666\n"
            "现住址：浙江省杭州市西湖区文三路138号3栋2单元501室\n"
            "患者于2023年5月3日就诊于浙江大学医学院附属第一医院心内科，5月6日行PCI术。主治医师：李明。")  # fmt: skip
    found = _found(rules, text, "zh")
    expect = {"张伟": "NAME", "92": "AGE", "ZY2023051234": "ID", "511501195402133875": "ID_CARD",
              "13812345678": "PHONE", "王芳": "NAME", "0571-88886666": "PHONE",
              "浙江省杭州市西湖区文三路138号3栋2单元501室": "ADDRESS", "2023年5月3日": "DATE",
              "浙江大学医学院附属第一医院心内科": "INSTITUTION", "5月6日": "DATE",
              "李明": "NAME"}  # fmt: skip
    assert {k: found.get(k) for k in expect} == expect


def test_chinese_look_alikes_stay(rules) -> None:
    text = "既往2019年诊断高血压，帕金森病史。肌力5/5级，血压128/76mmHg，65岁，床号12床。家中卫生间滑倒。"
    assert rules.find(text, "zh") == []


def test_id_card_checksum() -> None:
    assert valid_id_card("511501195402133875")
    assert not valid_id_card("511501195402133876")  # wrong check character
    assert not valid_id_card("511501195413333875")  # no 13th month
    assert valid_id_card("11010519491231002X")


def test_resolve_and_types() -> None:
    text = "Dr. John Smith 12/01/2020"
    spans = [Span(4, 14, "NAME", "John Smith"), Span(9, 14, "NAME", "Smith"),
             Span(15, 25, "DATE", "12/01/2020"), Span(15, 17, "ID", "12")]  # fmt: skip
    out = resolve(spans, text)
    assert [(s.text, s.type) for s in out] == [("John Smith", "NAME"), ("12/01/2020", "DATE")]
    assert parse_types("name, date") == ("NAME", "DATE")
    with pytest.raises(InvalidInputError, match="PHONES"):
        parse_types("PHONES")


def test_policy_keeps_other_types(rules) -> None:
    from medai.privacy.deid import Deidentifier

    d = Deidentifier(types="DATE", tagger=None)
    r = d.deidentify("Mr. John Smith seen 03/05/2023.")
    assert r.text == "Mr. John Smith seen [DATE]."
    with pytest.raises(InvalidInputError, match="mode"):
        d.deidentify("x", mode="blur")
    with pytest.raises(InvalidInputError, match="characters"):
        d.find("a" * 5_000_001)


def test_tagger_detections_are_checked_per_type() -> None:
    from medai.privacy.deid import _tagger_spans, _valid_date

    assert _valid_date("3/10") and _valid_date("25/12") and _valid_date("2019-11")
    assert _valid_date("March 3") and _valid_date("5月3日") and _valid_date("3/10/2024")
    assert not _valid_date("20/25") and not _valid_date("128/70") and not _valid_date("2023")
    assert not _valid_date("117.20") and not _valid_date("14")

    def tagged(lang: str, text: str, value: str, kind: str) -> list[str]:
        start = text.index(value)
        span = Span(start, start + len(value), kind, value, "tagger", 0.9)
        return [s.text for s in _tagger_spans([span], lang, text)]

    # cut at a line end or a table's column gap, then checked
    assert tagged("en", "DOB 1968-10-03   SSN 588", "1968-10-03   SSN", "DATE") == ["1968-10-03"]
    assert tagged("en", "Glucose  912     344     188", "912     344     188", "PHONE") == []
    assert tagged("en", "VA OS 20/25, IOP 17/15", "20/25", "DATE") == []
    assert tagged("en", "bed 14 today", "14", "ID") == []
    assert tagged("en", "seen by dr hollis today", "hollis", "NAME") == ["hollis"]
    assert tagged("en", "family history of sudden death", "sudden death", "NAME") == []
    assert tagged("zh", "口服卡马西平2月", "马西平", "NAME") == []
    assert tagged("zh", "正常儿童心电图", "童心", "NAME") == []
    assert tagged("zh", "心外科罗主任：", "罗", "NAME") == ["罗"]
    assert tagged("zh", "女儿阿依夏木·买买提明翻译", "阿依夏木·买买提明", "NAME") == [
        "阿依夏木·买买提明"
    ]
    assert tagged("zh", "其妻Sarah Thompson询问", "Sarah Thompson", "NAME") == ["Sarah Thompson"]
