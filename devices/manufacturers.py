"""One short name per manufacturer, whether a payload or the bundled IEEE registry named it.

Payloads say "Apple" or "Samsung"; the registry says "Apple, Inc." or "Samsung Electronics Co.,Ltd", and a company
holds prefixes under several spellings ("HUAWEI TECHNOLOGIES CO.,LTD", "Huawei Device Co., Ltd."). Filters,
charts, reports and exports show one name per company, derived from the registry's own text by rules rather than
by a list of brands: the part before the legal form, without a leading or trailing place of registration, in
one spelling, with the words that describe the trade rather than name the company ("Electronics", "Mobile
Communications", "Technologies") dropped from its end. The full registry name stays in the observations (and in
`presence export observations` as `manufacturer_full`).
"""

from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd

# Where a registered name's company part ends: a comma, a parenthesis, or a legal form.
_COMPANY_END = re.compile(r"[,(（]|\b(?:inc|ltd|llc|corp|co|gmbh|ag|sa|s\.a|bv|ab|oy|plc|limited)\b\.?", re.IGNORECASE)
# Places of registration that Chinese registrants put before the brand ("GUANGDONG OPPO MOBILE ...").
_PLACES = frozenset(
    """anhui beijing changsha chengdu china chongqing dongguan foshan fujian fuzhou guangdong guangzhou hangzhou
    hefei hong hubei hunan jiangsu jiangxi kong nanjing ningbo qingdao shandong shanghai shantou shenzhen sichuan
    suzhou tianjin wuhan xiamen xian zhejiang zhongshan zhuhai""".split()
)
# Words that say what a company does, not who it is: "Samsung Electronics", "Sony Mobile Communications".
_TRADE = frozenset(
    """communication communications corporate corporation device devices electronic electronics group holdings
    industrial industries international manufacturing mobile mobility technologies technology telecom
    telecommunication telecommunications""".split()
)
_TRAILING = re.compile(r"(?:\.com|\.net|[.\-–&/])+$", re.IGNORECASE)


def short_name(name: str | None) -> str | None:
    """"Apple, Inc." → "Apple"; "Samsung Electronics Co.,Ltd" → "Samsung"; "GUANGDONG OPPO MOBILE
    TELECOMMUNICATIONS CORP.,LTD" → "Oppo"; "LG ELECTRONICS" → "LG"; "Amazon.com, LLC" → "Amazon". None and
    blank names stay None."""
    if name is None:
        return None
    return _short(name)


@lru_cache(maxsize=65536)
def _short(name: str) -> str | None:
    company = _COMPANY_END.split(name.strip(), maxsplit=1)[0]
    words = [_TRAILING.sub("", word) or word for word in re.split(r"\s+", company) if word]
    while len(words) > 1 and words[0].casefold() in _PLACES:
        words = words[1:]
    while len(words) > 1 and (words[-1].casefold() in _TRADE or words[-1].casefold() in _PLACES):
        words = words[:-1]
    if not words:
        return name.strip() or None
    return " ".join(_spelling(word) for word in words)


def _spelling(word: str) -> str:
    """One spelling per word: a word written in one case becomes an acronym when short ("LG", "ZTE") and is
    capitalized otherwise ("HUAWEI", "vivo" → "Huawei", "Vivo"); mixed case ("OnePlus") is the company's own."""
    letters = [char for char in word if char.isalpha()]
    if letters and (all(char.isupper() for char in letters) or all(char.islower() for char in letters)):
        return word.upper() if len(letters) <= 3 else word[0].upper() + word[1:].lower()
    return word


def short_names(names: pd.Series) -> pd.Series:
    """`short_name` of every value, worked out once per distinct name (a column of millions holds a few dozen)."""
    distinct = names.dropna().unique()
    mapping = {name: short_name(name) for name in distinct}
    return names.map(mapping).astype(names.dtype)
