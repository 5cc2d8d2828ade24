"""Out of scope that knows its own university: a question naming another university is declined, and so
is a question about an off-campus place (another city's library, a landlord, a company).

A message names another university when it contains one of the names or abbreviations of
knowledge_base/seed/universities.txt (清华, 北大, 复旦…), or the pattern "<name>大学" whose name is not
ours (示例大学, `settings.university_name`): "北京大学的奖学金怎么申请" gets "我只能回答示例大学的问题",
never our own scholarship entry. "上大学", "这所大学", "大学生医保" are not names.
"""

from __future__ import annotations

import re
from functools import lru_cache

import yaml

from knowledge_base.config import PROJECT_ROOT
from knowledge_base.normalization import simplify

UNIVERSITIES_FILE = PROJECT_ROOT / "knowledge_base" / "seed" / "universities.txt"
OFF_CAMPUS_FILE = PROJECT_ROOT / "knowledge_base" / "seed" / "off_campus.yml"
# "<name>大学" with 2-6 characters of name; what follows must not make it a common word (大学生, 大学城).
_PATTERN = re.compile(
    r"([\u4e00-\u9fff]{2,8}?)大学(?!生|城|路|英语|语文|物理|数学|计算机基础|体育|期间|时|里|四年|生活|毕业)"
)
# Words in front of a name that belong to the sentence, not the name ("我想考北京大学" -> 北京).
_LEAD = re.compile(
    r"^(请问|想问|问一下|问下|我想|我要|我们|你们|他们|她们|咱们|一下|打听|知道|听说|考上|考进|考|读|上|在|去|进|到|和|跟|与|对|从|是|的|了|这所|那所|哪所|哪个|这个|那个|一所|所|个|我|你|他|她|想|要|好|帮|把|给)+"
)
_GENERIC = {
    "一流",
    "重点",
    "普通",
    "名牌",
    "本地",
    "外地",
    "国外",
    "国内",
    "老年",
    "开放",
    "综合",
    "理工",
    "师范",
    "这所",
    "那所",
}


@lru_cache(maxsize=1)
def known_names() -> tuple[str, ...]:
    """Names and abbreviations of other universities, longest first."""
    lines = UNIVERSITIES_FILE.read_text(encoding="utf-8").splitlines()
    names = {simplify(x.strip()) for x in lines if x.strip() and not x.startswith("#")}
    return tuple(sorted(names, key=len, reverse=True))


def other_university(text: str, ours: str) -> str | None:
    """The other university a message names ("北京大学", "清华"), or None (none, or only ours)."""
    t = simplify(text).replace(" ", "")
    own = simplify(ours)
    if own:
        t = t.replace(own, "#")
    for name in known_names():
        if name in t:
            return name
    for m in _PATTERN.finditer(t):
        name = _LEAD.sub("", m.group(1))
        if len(name) >= 2 and name not in _GENERIC and name + "大学" != own:
            return name + "大学"
    return None


@lru_cache(maxsize=1)
def _off_campus() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    data = yaml.safe_load(OFF_CAMPUS_FILE.read_text(encoding="utf-8"))
    cities = "|".join(sorted(map(re.escape, data["cities"]), key=len, reverse=True))
    facilities = "|".join(map(re.escape, data["facilities"]))
    place = re.compile(rf"({cities})[\u4e00-\u9fff]{{0,6}}?({facilities})")
    contexts = re.compile("|".join(sorted(map(re.escape, data["contexts"]), key=len, reverse=True)))
    campus = re.compile("|".join(map(re.escape, data["campus"])))
    return place, contexts, campus


def off_campus(text: str) -> str | None:
    """The off-campus place or context a message is about ("杭州图书馆", "房东"), or None.

    "图书馆几点开门" and "校医院周末有门诊吗" are ours; "杭州图书馆几点开门" and "出租屋热水器坏了 该房东修吗"
    are not, however close their words are to a campus entry (knowledge_base/seed/off_campus.yml).
    """
    t = simplify(text).replace(" ", "")
    place, contexts, campus = _off_campus()
    if campus.search(t):
        return None
    m = place.search(t) or contexts.search(t)
    return m.group(0) if m else None
