"""The crisis decision: a curated lexicon, a dedicated detector (knowledge_base/crisis_detector.py), tiers.

`assess` is the one decision, used alike by the gateway's pre-filter (the text alone, on every student
message before anything else, so the hotline answer and an urgent handoff happen even when Rasa is
down), by `knowledge_base.decisions.route` (which the actions and `make eval` share). It gives a tier:
urgent (hotlines and an urgent ticket at once), check_in (a gentle question that names the hotline and
offers a counsellor; the next message escalates when it accepts help or carries a signal again) or
none. Text is normalised first (Traditional to Simplified, full-width to half-width, spaces and
punctuation removed) so "不 想 活 了", "不想活了！" and "不想活了" match alike. Known near-misses
(杀毒软件, 笑死我了, 累死了, 《活着》...) are removed before matching; a phrase in a story or a joke
gets the check-in, never silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.crisis_detector import detector
from knowledge_base.normalization import simplify

# Phrases that signal self-harm, suicidal thinking or immediate danger.
CRISIS_PATTERNS: tuple[str, ...] = (
    r"不想活",
    r"活不下去",
    r"活着(真|好|太|真的|都)?没(有)?(意思|意义|希望|盼头)",
    r"活够了",
    r"活(着|下去)(真|好|太|真的|都|有)?(累|痛苦|没劲|煎熬|什么意思|有什么意义|没(有)?意义)",
    r"不配活",
    r"再见了?(这个)?世界|(跟|和|对)(这个)?世界(说)?(再见|告别)|告别(这个)?世界|离开这个世界",
    r"家暴|霸凌",
    r"(锁|关)在.{0,6}(房间|屋|宿舍|厕所)里?.{0,6}(不让|出不去)",
    r"(掐|勒)(着|住)?(我)?(的)?脖子",
    r"(泼|扔).{0,3}硫酸",
    r"(要|说要)(弄死|杀了|杀死|砍死|打死)我",
    r"(刀|药|绳子|炭)(都|已经)*(准备|买)好",
    r"(永远|一直)睡(过去|下去)|一睡不醒|再也不(会|想)?醒",
    r"没(有)?活下去的",
    r"寻死",
    r"求死",
    r"一死了之",
    r"死了算了",
    r"死了(就|会|就会|是不是|会不会)?(好了|更好|解脱|轻松|算了)",
    r"死了(就|会|就会|是不是|会不会)好",
    r"自杀",
    r"想(要)?死(了|啊|吧|呀)?($|真的|怎么办|的(心|念头|想法)|算了)",
    r"轻生",
    r"自残",
    r"自伤",
    r"伤害自己",
    r"结束(自己|我)(的)?(生命|一切)?",
    r"结束生命",
    r"割腕",
    r"割手",
    r"划手腕",
    r"跳楼",
    r"跳河",
    r"跳江",
    r"跳桥",
    r"上吊",
    r"烧炭",
    r"(吞|吃)(了)?(很多|一堆|一把|好多)?(安眠药|药片|农药|老鼠药)",
    r"安眠药",
    r"喝农药",
    r"遗书",
    r"遗言",
    r"不想(再)?醒来",
    r"消失(在这个世界|掉算了)",
    r"解脱(了)?吧",
    r"撑不下去",
    r"熬不下去",
    r"没有(人|谁)在乎我",
    r"世界上(没有|少)我",
    r"(有人|被人)(跟踪|尾随|威胁|勒索|敲诈)我?",
    r"(殴打|家暴|性侵|猥亵|骚扰)我",
    r"被(打|殴打|揍|家暴|性侵|猥亵|强奸|绑架|囚禁)",
    r"有人要(杀|打|害)我",
    r"(室友|同学|男朋友|女朋友|对象|家人|父亲|母亲|他|她)(一直)?(打|威胁|跟踪)我",
    # homophones, pinyin and abbreviations students type to get past filters
    r"紫砂",
    r"自s",
    r"zisha",
    r"zisa",
    r"想si",
    r"想sǐ",
    r"buxianghuo",
    r"不想或了",
    r"不想火了",
    r"一了百了",
    r"结束(这一切|一切)",
    r"撑不住了",
    r"坚持不下去",
    r"不想(再)?坚持",
    r"(从|往)?(楼上|楼顶|天台|窗户|桥上|阳台)(跳|跳下去)",
    r"跳下去",
    r"站在.{0,6}(天台|楼顶|楼顶上|窗边|桥上|河边|江边)",
    r"(刀|刀片|玻璃)(划|割)",
    r"划(了|伤)?(自己|手臂|胳膊|手腕)",
    r"割(了|伤)?(自己|手臂|胳膊)",
    r"(攒|存)(了|好|下)?(的)?(很多|好多)?(的)?药",
    r"(药|药片)(全|都|一次)(吃|吞)(了|掉|下)",
    r"(吞|吃)(了|下|掉)?(半|一|整|两|好几|一大)(瓶|板|盒|把)(的)?(药|片|布洛芬|安眠药|褪黑素|安定|止痛药|感冒药)",
    r"(烟头|打火机|刀片|小刀|美工刀|剪刀|圆规).{0,4}(烫|划|割|扎|戳)(伤|破)?(自己|手|胳膊|手臂|腿)",
    r"(烫|划|割|扎)(伤|破)?自己",
    r"药.{0,3}(攒|存)(好|够)",
    r"药.{0,12}(一次性|一口气)(全|都)?(吃|吞)",
    r"(一整瓶|整瓶|一瓶|好多|很多|一把)(的)?药",
    r"吃了(好多|很多|一堆)?药.{0,10}(晕|叫不醒|不省人事)",
    r"叫不醒",
    r"没(了)?呼吸",
    r"怎么死",
    r"死(了)?才不(会)?痛",
    r"(是|就是)(个|一个)?累赘",
    r"没有我.{0,6}(更好|会好)",
    r"(消失|不在)了.{0,8}(没人|没有人)(会)?(在意|在乎|发现)",
    r"再见了.{0,4}永远",
    r"永别",
    r"告别的?(朋友圈|信|话)",
    r"(拿着?|持)刀.{0,6}(堵|追|砍|威胁)",
    r"(一直|有人)跟着我",
    r"(堵|围)(着)?我.{0,6}(害怕|怕)",
    r"want(ed)?todie",
    r"wannadie",
    r"killmyself",
    r"suicid",
    r"endmylife",
    r"hurtmyself",
    r"selfharm",
)

# Everyday phrases with alarming words that are not a personal crisis.
NEAR_MISSES: tuple[str, ...] = (
    r"杀毒",
    r"杀青",
    r"秒杀",
    r"杀价",
    r"砍价",
    r"自杀式",
    r"跳楼价",
    r"跳楼甩卖",
    r"割草",
    r"笑死",
    r"累死",
    r"热死",
    r"冷死",
    r"饿死",
    r"困死",
    r"忙死",
    r"烦死",
    r"气死",
    r"吓死",
    r"难死",
    r"丑死",
    r"美死",
    r"急死",
    r"渴死",
    r"痛死",
    r"晒死",
    r"无聊死",
    r"《活着》",
    r"活着这本书",
    r"死亡笔记",
    r"死线",
    r"deadline",
    r"死机",
    r"死循环",
    r"死锁",
    r"救命稻草",
    r"救命之恩",
    r"想死你(们)?了",
    r"(自杀|自伤|自残|危机)(干预|预防|防控)",
    r"(防|反|预防)(自杀|自伤|自残)",
    r"跳楼机",
    r"被(打|揍|虐)(爆|穿|残|崩|懵|脸|哭)",
)

# Phrases that are as often everyday talk as a crisis (想死那家店了, 救命 选课系统崩了, 打我一顿也不去):
# a crisis only when the detector agrees, else the gentle check-in.
AMBIGUOUS_PATTERNS: tuple[str, ...] = (
    r"想(要)?死",
    r"去死",
    r"救命",
    r"(打|揍)我",
    # farewells and arrangements (classic warning signs, but also everyday talk: 我走了以后记得锁门)
    r"(我走了以后|我走之后|我死后|我不在了以后|我不在以后)",
    r"最后一(次|条|句).{0,6}(说话|消息|聊天|话)",
    r"(帮我|替我)(照顾好?|照看).{0,6}(猫|狗|爸妈|父母|家人|妈妈|爸爸|妹妹|弟弟)",
    r"(钱|存款|东西|遗物|银行卡).{0,10}(都)?留给",
    r"(该交代的|后事).{0,4}(都)?交代",
    r"(写|留)(了|好)?.{0,8}信.{0,10}(交代|告别|再见|对不起)",
    r"(密码|存款|银行卡).{0,10}(抽屉|留给|告诉)",
    r"(东西|物品|衣服|书).{0,6}(都|全)(分|送)给",
    r"以后(也)?(用不上|用不到|不需要)了",
)

# An alarming phrase in a story or a game ("游戏输了我想自杀", a character's 割腕): not today's path,
# but never silence either: the check-in.
CONTEXT_NEAR_MISSES: tuple[str, ...] = (
    r"(角色|人物|主角|女主|男主|剧本|小说|电影|剧|番|动漫|漫画|游戏|新闻|报道|热搜|歌词|书里|开玩笑|玩笑|段子)"
    r".{0,10}(割腕|自杀|跳楼|上吊|想死|不想活|轻生)",
    r"(割腕|自杀|跳楼|上吊|想死|不想活|轻生).{0,8}(开玩笑|玩笑|哈哈|hhh|doge|狗头|这部|电影|剧|小说|游戏|歌)",
)

_CRISIS_RE = re.compile("|".join(CRISIS_PATTERNS))
_AMBIGUOUS_RE = re.compile("|".join(AMBIGUOUS_PATTERNS))
_AMBIGUOUS_EACH = tuple(re.compile(p) for p in AMBIGUOUS_PATTERNS)
_NEAR_MISS_RE = re.compile("|".join(NEAR_MISSES), re.IGNORECASE)
_CONTEXT_RE = re.compile("|".join(CONTEXT_NEAR_MISSES), re.IGNORECASE)
_STRIP_RE = re.compile(r"[\s\u3000,.!?;:，。！？；：、…~～\-—_\"'“”‘’()（）\[\]【】]+")

# The tiers' thresholds on the detector's score, from its 5-fold cross-validation on the project's own
# data (`benchmarks/crisis_cv.py`, docs/benchmarks.md "Crisis detector"): URGENT lets through 0.1 % of
# the negative examples; CONFIRM, the lowest confirmation of an ambiguous phrase (想死, 救命) that gives
# no negative example the urgent path; CHECK_IN checks in on at most 0.3 % of the negative examples.
DETECTOR_URGENT = 0.9
DETECTOR_CONFIRM = 0.75
DETECTOR_CHECK_IN = 0.8
URGENT = "urgent"
CHECK_IN = "check_in"
NONE = "none"
BY_LEXICON = "lexicon"
BY_DETECTOR = "detector"
BY_CONTEXT = "context"
# kept for callers of the old names
BY_CLASSIFIER = BY_DETECTOR
INTENT_CRISIS = "crisis"  # the NLU intent (domain.yml)

HOTLINES = (
    ("全国心理援助热线", "12356"),
    ("希望24热线", "400-161-9995"),
    ("报警", "110"),
    ("急救", "120"),
)


@dataclass(frozen=True)
class CrisisSignal:
    """How alarming a message is: `tier` urgent (hotlines and an urgent ticket now), check_in (a gentle
    question that names the hotline and offers a counsellor) or none; `by` what decided; the detector's score."""

    tier: str
    by: str | None = None
    score: float = 0.0

    @property
    def urgent(self) -> bool:
        return self.tier == URGENT

    @property
    def check_in(self) -> bool:
        return self.tier == CHECK_IN


def normalise(text: str) -> str:
    """Simplified Chinese (OpenCC), NFKC, lower case, without spaces and punctuation (book-title marks kept)."""
    return _STRIP_RE.sub("", simplify(text or ""))


def is_crisis(text: str) -> bool:
    """True when the lexicon alone flags the message (an unambiguous phrase of self-harm or danger)."""
    t = normalise(text)
    if not t:
        return False
    t = _CONTEXT_RE.sub("#", _NEAR_MISS_RE.sub("#", t))
    return _CRISIS_RE.search(t) is not None


def assess(text: str) -> CrisisSignal:
    """The one crisis decision, on the text alone (the gateway's pre-filter, `route()`, `make eval`).

    - urgent: an unambiguous lexicon phrase; or an ambiguous one (想死, 救命) the detector confirms; or the
      detector alone, very sure;
    - check_in: an ambiguous phrase the detector does not confirm, a phrase the near-miss patterns took
      for a story or a joke ("游戏输了我想自杀"), or a detector score above CHECK_IN;
    - none otherwise.
    """
    t = normalise(text)
    if not t:
        return CrisisSignal(NONE)
    kept = _NEAR_MISS_RE.sub("#", t)
    context = _CONTEXT_RE.search(kept) is not None
    kept = _CONTEXT_RE.sub("#", kept)
    if _CRISIS_RE.search(kept):
        return CrisisSignal(URGENT, BY_LEXICON, 1.0)
    score = detector(is_crisis).score(text)
    signs = sum(1 for pattern in _AMBIGUOUS_EACH if pattern.search(kept))
    ambiguous = signs > 0
    # two warning signs together (a farewell and an arrangement), or one the detector confirms
    if ambiguous and (score >= DETECTOR_CONFIRM or signs >= 2) and not context:
        return CrisisSignal(URGENT, BY_LEXICON, score)
    if score >= DETECTOR_URGENT and not context:
        return CrisisSignal(URGENT, BY_DETECTOR, score)
    if context:
        return CrisisSignal(CHECK_IN, BY_CONTEXT, score)
    if ambiguous:
        return CrisisSignal(CHECK_IN, BY_LEXICON, score)
    if score >= DETECTOR_CHECK_IN:
        return CrisisSignal(CHECK_IN, BY_DETECTOR, score)
    return CrisisSignal(NONE, None, score)


def detect_crisis(text: str, intent: str | None = None, confidence: float = 0.0) -> str | None:
    """What decided an urgent crisis (`"lexicon"` or `"detector"`), or None.

    The NLU's intent and confidence are no longer part of the decision (the dedicated detector replaced
    the `crisis` intent, which took anxious ordinary questions for a crisis); the arguments stay for callers.
    """
    signal = assess(text)
    return signal.by if signal.urgent else None


def hotline_text(school_line: str = "") -> str:
    """The crisis reply: we care, call now, a teacher is being notified."""
    lines = "\n".join(f"· {name}：{number}" for name, number in HOTLINES)
    school = f"\n· 学校心理中心24小时值班电话：{school_line}" if school_line else ""
    return (
        "你现在的感受很重要，你不是一个人。如果你有伤害自己的想法或正处在危险中，请马上拨打：\n"
        f"{lines}{school}\n"
        "我已经通知值班老师尽快联系你。请留在安全的地方，也可以告诉身边信任的人陪着你。"
    )


def check_in_text() -> str:
    """The gentle check-in: the hotline named, a counsellor offered, the student's answer awaited."""
    return (
        f"{CHECK_IN_MARK}你刚才说的话让我有点担心你。你现在还好吗？\n"
        "如果你正在经历很难熬的时刻，可以随时拨打全国心理援助热线 12356（24小时），危险时请拨打 110 / 120。\n"
        "需要的话，我现在就请心理中心的值班老师联系你：回复「需要」就好；只是随口一说的话，回复「我没事」。"
    )


CHECK_IN_MARK = "【关心】"
CHECK_IN_BUTTONS = (("需要老师联系我", "需要老师联系我"), ("我没事", "我没事"))
# The student's answer to the check-in that accepts help (escalates); "我没事" and the like do not.
ACCEPT_HELP = re.compile(
    r"^(需要|要|好|好的|嗯|嗯嗯|是|是的|对|帮帮我|救救我|联系|请|麻烦)|需要老师|联系我|帮我联系|找老师"
)
DECLINE_HELP = re.compile(r"没事|不用|不需要|开玩笑|玩笑|随便说|随口|没关系|还好|算了")


def escalates_check_in(text: str, signal: CrisisSignal | None = None) -> bool:
    """After a check-in: the student's next message escalates to the urgent path when it accepts help or
    carries any crisis signal again; "我没事" and an ordinary question do not. `signal`: `assess(text)`,
    when the caller has it already."""
    t = normalise(text)
    if (signal if signal is not None else assess(text)).tier != NONE:
        return True
    if DECLINE_HELP.search(t):
        return False
    return ACCEPT_HELP.search(t) is not None
