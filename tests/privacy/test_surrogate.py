"""Tags and consistent surrogates: names, date shifts, ages, shapes."""

from __future__ import annotations

import re

import pytest

from medai.privacy.chinese import valid_id_card
from medai.privacy.deid import Deidentifier
from medai.privacy.surrogate import Surrogates, shift_date


def test_tags_and_standoff(rules) -> None:
    text = "Mr. John Smith was seen on 03/05/2023. Call 617-555-0142."
    r = rules.deidentify(text, patient_id="P1")
    assert r.text == "Mr. [NAME] was seen on [DATE]. Call [PHONE]."
    for s, rec in zip(r.spans, r.standoff(), strict=True):
        assert text[rec["start"] : rec["end"]] == s.text
        assert r.text[rec["out_start"] : rec["out_end"]] == f"[{s.type}]"
        assert "text" not in rec  # the audit file never repeats the PHI


def test_surrogates_consistent_per_patient(rules) -> None:
    a = rules.deidentify("Mr. John Smith seen 03/05/2023; Smith returns 03/19/2023.",
                         patient_id="P1", mode="surrogate")  # fmt: skip
    b = rules.deidentify("Dr. Ann Lee called Mr. John Smith on 04/02/2023.", patient_id="P1",
                         mode="surrogate")  # fmt: skip
    assert "John" not in a.text + b.text and "Smith" not in a.text + b.text
    fake_full = a.text.split("Mr. ")[1].split(" seen")[0]
    fake_last = fake_full.split()[-1]
    assert fake_full in b.text  # same name, same fake, in another note
    assert a.text.count(fake_last) == 2
    dates = re.findall(r"\d\d/\d\d/\d{4}", a.text)
    import datetime as dt

    d1, d2 = (dt.datetime.strptime(d, "%m/%d/%Y") for d in dates)
    assert (d2 - d1).days == 14  # intervals are kept
    other = rules.deidentify("Mr. John Smith seen 03/05/2023.", patient_id="P2",
                             mode="surrogate")  # fmt: skip
    assert other.text != a.text.split(";")[0] + "."  # another patient, other surrogates
    again = Deidentifier(tagger=None, key="test-key-0123456789").deidentify(
        "Mr. John Smith seen 03/05/2023; Smith returns 03/19/2023.", patient_id="P1",
        mode="surrogate")  # fmt: skip
    assert again.text == a.text  # the same key gives the same surrogates


def test_ages_numbers_and_chinese(rules) -> None:
    r = rules.deidentify("92-year-old, SSN 123-45-6789, MRN: 00482913", mode="surrogate")
    assert r.text.startswith("90+-year-old")
    assert re.search(r"SSN \d{3}-\d{2}-\d{4}", r.text) and "123-45-6789" not in r.text
    assert re.search(r"MRN: \d{8}", r.text) and "00482913" not in r.text
    zh = rules.deidentify("患者张伟，男，92岁，身份证511501195402133875，电话13812345678，"
                          "2023年5月3日入院。", patient_id="P9", mode="surrogate")  # fmt: skip
    assert "张伟" not in zh.text and "90+岁" in zh.text
    card = re.search(r"身份证(\d{17}[\dX])", zh.text)
    assert card and valid_id_card(card.group(1)) and card.group(1) != "511501195402133875"
    assert re.search(r"电话1[3-9]\d{9}", zh.text)
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日入院", zh.text)


@pytest.mark.parametrize(
    ("original", "shifted"),
    [("03/05/2023", "02/03/2023"), ("2023-05-03", "2023-04-03"), ("2023年5月3日", "2023年4月3日"),
     ("5月3日", "4月3日"), ("March 5th, 2023", "February 3rd, 2023"), ("05-MAR-23", "03-FEB-23"),
     ("二〇二三年五月三日", "二〇二三年四月三日"), ("3/5", "2/4"), ("Mar 2023", "Feb 2023")],
)  # fmt: skip
def test_shift_date_keeps_format(original: str, shifted: str) -> None:
    assert shift_date(original, -30) == shifted


def test_surrogate_never_returns_the_original() -> None:
    s = Surrogates("k" * 20)
    for kind, value in [("NAME", "王"), ("ID", "0000"), ("ZIP", "12345"), ("PHONE", "555-0100")]:
        assert s.replace(kind, value, "P", kind == "NAME") != value
