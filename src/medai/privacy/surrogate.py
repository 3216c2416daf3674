"""Replacements for PHI: type tags, or realistic surrogates that stay consistent per patient.

Surrogates are derived from an HMAC-SHA256 of a secret key, the patient id, the PHI type and
the (normalised) original value, so that

* the same name of the same patient always gets the same fake, in every note and every run
  with the same key (names are mapped word by word: "John Smith", "Smith" and "J. Smith"
  stay consistent);
* every date of a patient moves by one offset (1 to 365 days back), so intervals are kept,
  and is written back in its original format;
* ages over 89 become "90+";
* numbers keep their shape (digits stay digits, letters letters, separators stay); Chinese
  identity numbers get a valid check character;
* e-mail addresses, URLs and IPs get reserved example values (example.org, 192.0.2.0/24,
  2001:db8::/32) that cannot belong to anyone.

Without a key, a random one is drawn per run: consistent within the run, not linkable after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any

from medai.core.errors import require
from medai.privacy.english import MONTHS

__all__ = ["Surrogates", "tag"]

_MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"]  # fmt: skip
_CN_NUM = "〇一二三四五六七八九"


def tag(phi_type: str) -> str:
    """The tag that replaces a PHI span in ``tags`` mode, e.g. ``[NAME]``."""
    return f"[{phi_type}]"


def _style(original: str, fake: str) -> str:
    if original.isupper() and len(original) > 1:
        return fake.upper()
    if original.islower():
        return fake.lower()
    return fake


class Surrogates:
    """Consistent fake values.

    Parameters
    ----------
    key : str or bytes, optional
        Secret for the HMAC; random when not given.
    """

    def __init__(self, key: str | bytes | None = None) -> None:
        if key is None:
            key = secrets.token_bytes(32)
        self.key = key.encode() if isinstance(key, str) else bytes(key)
        faker = require("faker", "privacy")
        self._en = faker.Faker("en_US")
        self._zh = faker.Faker("zh_CN")

    # -- deterministic randomness ----------------------------------------------------------
    def _digest(self, *parts: str) -> bytes:
        return hmac.new(self.key, "\x1f".join(parts).encode(), hashlib.sha256).digest()

    def _int(self, *parts: str) -> int:
        return int.from_bytes(self._digest(*parts)[:8], "big")

    def _faker(self, zh: bool, *parts: str) -> Any:
        f = self._zh if zh else self._en
        f.seed_instance(self._int(*parts))
        return f

    def date_offset(self, patient: str) -> int:
        """Days (1 to 365) that every date of ``patient`` moves back."""
        return 1 + self._int("date", patient) % 365

    # -- per type -------------------------------------------------------------------------
    def replace(self, phi_type: str, original: str, patient: str, zh: bool) -> str:
        """A surrogate for ``original`` of ``phi_type`` belonging to ``patient``."""
        handler: Callable[[str, str, bool], str] = getattr(
            self, f"_{phi_type.lower()}", self._shape
        )
        return handler(original, patient, zh)

    def _name(self, original: str, patient: str, zh: bool) -> str:
        if re.search(r"[\u4e00-\u9fff]", original):
            return self._zh_name(original, patient)

        def word(m: re.Match[str]) -> str:
            w = m.group()
            if re.fullmatch(r"[A-Z]\.?", w):  # an initial
                f = self._faker(False, patient, "initial", w.upper())
                return f.first_name()[0] + ("." if w.endswith(".") else "")
            f = self._faker(False, patient, "name", w.lower())
            fake = f.last_name() if self._int(patient, "kind", w.lower()) % 2 else f.first_name()
            return _style(w, fake)

        return re.sub(r"[A-Za-z][a-z]*\.?|[A-Za-z]+", word, original)

    def _zh_name(self, original: str, patient: str) -> str:
        from medai.privacy.gazetteer import gazetteer

        g = gazetteer()
        sur = next((s for s in g.zh_surnames if original.startswith(s)), original[:1])
        rest = original[len(sur) :]
        fake_sur, n = sur, 0
        while fake_sur == sur:
            fake_sur = self._faker(True, patient, "surname", sur, str(n)).last_name()
            n += 1
        if not rest or set(rest) <= set("某Xx*×"):
            return fake_sur + rest
        f = self._faker(True, patient, "given", rest)
        given = f.first_name()
        while len(given) < len(rest):
            given += self._faker(True, patient, "given2", rest, given).first_name()
        return fake_sur + given[: len(rest)]

    def _age(self, original: str, patient: str, zh: bool) -> str:
        return "90+"

    def _email(self, original: str, patient: str, zh: bool) -> str:
        h = self._digest(patient, "email", original.lower()).hex()[:8]
        return f"user{h}@example.org"

    def _url(self, original: str, patient: str, zh: bool) -> str:
        h = self._digest(patient, "url", original.lower()).hex()[:8]
        return f"https://example.org/{h}"

    def _ip(self, original: str, patient: str, zh: bool) -> str:
        n = self._int(patient, "ip", original)
        if ":" in original:
            return f"2001:db8::{n % 65536:x}"
        return f"192.0.2.{1 + n % 254}"

    def _shape(self, original: str, patient: str, zh: bool, kind: str = "id") -> str:
        stream = self._digest(patient, kind, original)
        out = []
        for i, ch in enumerate(original):
            b = stream[i % len(stream)] ^ (i * 31 & 0xFF)
            if ch.isdigit():
                out.append(str(b % 10))
            elif "A" <= ch <= "Z":
                out.append(chr(ord("A") + b % 26))
            elif "a" <= ch <= "z":
                out.append(chr(ord("a") + b % 26))
            else:
                out.append(ch)
        fake = "".join(out)
        if fake == original:  # never return the original (e.g. a lone separator)
            fake = re.sub(r"\d", lambda m: str((int(m.group()) + 1) % 10), original)
        return fake

    def _phone(self, original: str, patient: str, zh: bool) -> str:
        digits = re.sub(r"\D", "", original)
        fake = self._shape(original, patient, zh, "phone")
        if zh and re.fullmatch(r"(?:86)?1[3-9]\d{9}", digits):  # keep a mobile a mobile
            idx = [i for i, c in enumerate(fake) if c.isdigit()]
            start = 2 if digits.startswith("86") and len(digits) == 13 else 0
            chars = list(fake)
            chars[idx[start]], chars[idx[start + 1]] = "1", "3"
            fake = "".join(chars)
        return fake

    def _ssn(self, original: str, patient: str, zh: bool) -> str:
        fake = self._shape(original, patient, zh, "ssn")
        digits = [c for c in fake if c.isdigit()]
        if digits and digits[0] in "069":  # keep clear of invalid / real-looking areas? no:
            fake = fake.replace(digits[0], "7", 1)  # use an unissued-looking 7xx area
        return fake

    def _id_card(self, original: str, patient: str, zh: bool) -> str:
        from medai.privacy.chinese import _ID_CHECK, _ID_WEIGHTS

        digits = self._shape(original[:17], patient, zh, "id_card")
        if len(original) != 18 or not digits.isdigit():
            return self._shape(original, patient, zh, "id_card")
        born = dt.date(1930, 1, 1) + dt.timedelta(days=self._int(patient, "born") % 27000)
        body = digits[:6] + born.strftime("%Y%m%d") + digits[14:17]
        total = sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True))
        return body + _ID_CHECK[total % 11]

    def _zip(self, original: str, patient: str, zh: bool) -> str:
        return self._shape(original, patient, zh, "zip")

    def _address(self, original: str, patient: str, zh: bool) -> str:
        f = self._faker(zh, patient, "address", original)
        if zh or re.search(r"[\u4e00-\u9fff]", original):
            number = 1 + self._int(patient, "house", original) % 300
            return f"{f.province()}{f.city()}{f.district()}区{f.street_name()}{number}号"
        return str(f.street_address())

    def _city(self, original: str, patient: str, zh: bool) -> str:
        f = self._faker(zh, patient, "city", original.lower())
        if zh or re.search(r"[\u4e00-\u9fff]", original):
            return str(f.city_name())
        return _style(original, str(f.city()))

    def _institution(self, original: str, patient: str, zh: bool) -> str:
        f = self._faker(zh, "institution", original.lower())  # not per patient: a place
        if zh or re.search(r"[\u4e00-\u9fff]", original):
            m = re.search(r"^.*(医院|卫生院|诊所|中心|大学|学院|中学|小学|公司|药店|药房)"
                          r"([\u4e00-\u9fff]*?(?:科|病区|门诊|病房))?$", original)  # fmt: skip
            kind = m.group(1) if m else "医院"
            dept = (m.group(2) or "") if m else ""
            if kind == "医院":
                return f"{f.city_name()}第{_CN_NUM[1 + self._int(original) % 9]}人民医院{dept}"
            return f"{f.city_name()}{f.last_name()}{kind}{dept}"
        m = re.search(r"(Hospital|Medical Center|Clinic|Health System|Health Center|Pharmacy|"
                      r"School|University|College|Hospice|Nursing Home|Rehab\w*|Center|"
                      r"Associates|Medical Group)\b.*$", original)  # fmt: skip
        kind = m.group(1) if m else "Medical Center"
        return f"{f.last_name()} {kind}"

    # -- dates ----------------------------------------------------------------------------
    def _date(self, original: str, patient: str, zh: bool) -> str:
        days = self.date_offset(patient)
        shifted = shift_date(original, -days)
        return shifted if shifted is not None else self._shape(original, patient, zh, "date")


def _cn_year(text: str) -> int:
    from medai.privacy.chinese import _CN_DIGITS

    return int("".join(str(_CN_DIGITS[c]) for c in text))


def shift_date(text: str, days: int) -> str | None:
    """``text`` (a date in one of the formats medai detects) moved by ``days``, same format.

    Returns None when the text cannot be parsed as a date. Dates without a year are taken
    in a leap year (2000) so that 29 February survives and written back without a year.
    """

    def move(y: int, m: int, d: int) -> dt.date | None:
        try:
            return dt.date(y, m, d) + dt.timedelta(days=days)
        except (ValueError, OverflowError):
            return None

    def two(n: int, like: str) -> str:
        return f"{n:02d}" if len(like) == 2 else str(n)

    s = text
    # 2023年5月3日, 2023-05-03, 2023/5/3, 2023.05.03 (separators and padding are kept)
    m = re.fullmatch(r"(\d{4})(\s*年\s*|[-/.])(\d{1,2})(\s*月\s*|[-/.])(\d{1,2})(\s*[日号]?)", s)
    if m:
        d = move(int(m.group(1)), int(m.group(3)), int(m.group(5)))
        return None if d is None else (f"{d.year}{m.group(2)}{two(d.month, m.group(3))}"
                                       f"{m.group(4)}{two(d.day, m.group(5))}{m.group(6)}")  # fmt: skip
    m = re.fullmatch(r"(\d{4})(\s*年\s*)(\d{1,2})(\s*月)(.*)", s)
    if m:
        d = move(int(m.group(1)), int(m.group(3)), 15)
        return None if d is None else f"{d.year}{m.group(2)}{d.month}{m.group(4)}{m.group(5)}"
    m = re.fullmatch(r"(\d{1,2})(\s*月\s*)(\d{1,2})(\s*[日号])", s)
    if m:
        d = move(2000, int(m.group(1)), int(m.group(3)))
        return None if d is None else f"{d.month}{m.group(2)}{d.day}{m.group(4)}"
    m = re.fullmatch(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})", s)
    if m:
        a, b, y = int(m.group(1)), int(m.group(3)), int(m.group(4))
        year = y + (2000 if y < 50 else 1900) if len(m.group(4)) == 2 else y
        month_first = m.group(2) != "." and a <= 12
        mo, da = (a, b) if month_first else (b, a)
        d = move(year, mo, da)
        if d is None:
            d = move(year, b, a)
            month_first = not month_first
            if d is None:
                return None
        yy = str(d.year) if len(m.group(4)) == 4 else f"{d.year % 100:02d}"
        first, second = (d.month, d.day) if month_first else (d.day, d.month)
        return f"{two(first, m.group(1))}{m.group(2)}{two(second, m.group(3))}{m.group(2)}{yy}"
    m = re.fullmatch(r"(\d{2})\.(\d{1,2})\.(\d{1,2})", s)
    if m:
        d = move(2000 + int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return None if d is None else f"{d.year % 100:02d}.{d.month}.{d.day}"
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})", s)
    if m:
        d = move(2000, int(m.group(1)), int(m.group(2)))
        return None if d is None else f"{two(d.month, m.group(1))}/{two(d.day, m.group(2))}"
    m = re.fullmatch(r"([〇零○一二三四五六七八九]{2,4})年([一二三四五六七八九十]{1,3})月"
                     r"(?:([一二三四五六七八九十]{1,3})([日号]))?", s)  # fmt: skip
    if m:

        def cn(n: str) -> int:
            if n == "十":
                return 10
            if n.startswith("十"):
                return 10 + "〇一二三四五六七八九".index(n[1])
            if "十" in n:
                a, _, b = n.partition("十")
                return 10 * "〇一二三四五六七八九".index(a) + ("〇一二三四五六七八九".index(b)
                                                                if b else 0)  # fmt: skip
            return "〇一二三四五六七八九".index(n)

        def cn_out(n: int) -> str:
            if n < 10:
                return _CN_NUM[n]
            return ("" if n < 20 else _CN_NUM[n // 10]) + "十" + (_CN_NUM[n % 10] if n % 10 else "")

        y = _cn_year(m.group(1))
        d = move(y, cn(m.group(2)), cn(m.group(3)) if m.group(3) else 15)
        if d is None:
            return None
        cn_year = "".join(_CN_NUM[int(c)] for c in str(d.year))
        day = f"{cn_out(d.day)}{m.group(4)}" if m.group(3) else ""
        return f"{cn_year}年{cn_out(d.month)}月{day}"
    # English month names
    m = re.fullmatch(r"(?i)(\d{1,2})-([a-z]{3,9})-(\d{4}|\d{2})", s)
    if m and m.group(2).lower() in MONTHS:
        y = int(m.group(3))
        year = y + (2000 if y < 50 else 1900) if len(m.group(3)) == 2 else y
        d = move(year, MONTHS[m.group(2).lower()], int(m.group(1)))
        if d is None:
            return None
        mon = _MONTH_NAMES[d.month - 1][:3]
        mon = mon.upper() if m.group(2).isupper() else mon
        yy = str(d.year) if len(m.group(3)) == 4 else f"{d.year % 100:02d}"
        return f"{d.day:02d}-{mon}-{yy}" if len(m.group(1)) == 2 else f"{d.day}-{mon}-{yy}"
    m = re.fullmatch(
        r"(?i)([a-z]+)(\.?)(\s+)(\d{1,2})(st|nd|rd|th)?(?:(\s*,?\s*)(\d{4}|'\d{2}))?", s
    )
    if m and m.group(1).lower() in MONTHS:
        year_txt = m.group(7)
        year = 2000
        if year_txt:
            year = int(year_txt.strip("'")) + (2000 if year_txt.startswith("'") else 0)
        d = move(year, MONTHS[m.group(1).lower()], int(m.group(4)))
        if d is None:
            return None
        mon = _month_like(m.group(1), d.month)
        suffix = _ordinal(d.day) if m.group(5) else ""
        tail = ""
        if year_txt:
            tail = m.group(6) + (
                f"'{d.year % 100:02d}" if year_txt.startswith("'") else str(d.year)
            )
        return f"{mon}{m.group(2)}{m.group(3)}{d.day}{suffix}{tail}"
    m = re.fullmatch(
        r"(?i)(\d{1,2})(st|nd|rd|th)?(\s+)(of\s+)?([a-z]+)(\.?)(?:(\s*,?\s*)(\d{4}|'?\d{2}))?", s
    )
    if m and m.group(5).lower() in MONTHS:
        year_txt = m.group(8)
        if year_txt:
            y = int(year_txt.strip("'"))
            year = y + 2000 if len(year_txt.strip("'")) == 2 else y
        else:
            year = 2000
        d = move(year, MONTHS[m.group(5).lower()], int(m.group(1)))
        if d is None:
            return None
        suffix = _ordinal(d.day) if m.group(2) else ""
        tail = ""
        if year_txt:
            yy = str(d.year) if len(year_txt.strip("'")) == 4 else f"{d.year % 100:02d}"
            tail = m.group(7) + ("'" if year_txt.startswith("'") else "") + yy
        return (f"{d.day}{suffix}{m.group(3)}{m.group(4) or ''}{_month_like(m.group(5), d.month)}"
                f"{m.group(6)}{tail}")  # fmt: skip
    m = re.fullmatch(r"(?i)([a-z]+)(\.?)(\s*,?\s+)(\d{4})", s)
    if m and m.group(1).lower() in MONTHS:
        d = move(int(m.group(4)), MONTHS[m.group(1).lower()], 15)
        return (
            None
            if d is None
            else f"{_month_like(m.group(1), d.month)}{m.group(2)}{m.group(3)}{d.year}"
        )
    return None


def _month_like(original: str, month: int) -> str:
    name = _MONTH_NAMES[month - 1]
    if len(original) <= 4 and original.lower() not in ("june", "july"):
        name = name[:4] if original.lower() == "sept" and month == 9 else name[:3]
    return name if original.istitle() else _style(original, name)


def _ordinal(n: int) -> str:
    return "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
