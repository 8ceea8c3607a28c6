"""What a message is about: its subject term, whether it asks, and what kind of question it is.

Rules, not a parser: a question is matched against the shapes people ask in ("有什么推荐的X吗", "Any good X
at the Y?"), the captured words are trimmed of pronouns, time words and particles, and what is left must
look like a term. A statement gives its first "the <noun>" (English) or the longest known word in it.
"""

from __future__ import annotations

import re

from aic_simulator.grammar import GRAMMARS, Grammar


def subject_of(text: str, language: str) -> str | None:
    """The salient subject of a message or question, as a term found in it; None when there is none."""
    grammar = GRAMMARS["en" if language == "en" else "zh"]
    if language == "en":
        return _subject_en(text, grammar)
    return _subject_zh(text, grammar)


def is_question(text: str, language: str) -> bool:
    """Whether the text asks something (a question mark, a question word or particle)."""
    if "?" in text or "？" in text:
        return True
    if language == "en":
        return bool(_EN_QUESTION_START.match(text.strip()))
    return bool(_ZH_QUESTION_WORDS.search(text))


HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
_EN_QUESTION_START = re.compile(
    r"^(?:\w+,\s*)?(?:who|what|when|where|which|why|how|any|anyone|do|does|did|is|are|was|were|can|could|"
    r"would|will|should|have|has|recommend)\b",
    re.IGNORECASE,
)
_ZH_QUESTION_WORDS = re.compile(
    r"[吗呢么嘛](?:[。！!~～\s]|$)|什么|怎么|哪里|哪儿|哪个|哪家|哪本|几点|多少|推荐一下|有推荐|是不是|有没有|要不要|好不好|"
    r"能不能|会不会|谁"
)


def language_of(text: str) -> str:
    """ "zh" or "en", by which script carries the text: a Chinese name in English text leaves it English."""
    han = len(HAN.findall(text))
    return "zh" if han and 3 * han >= len(re.findall(r"[A-Za-z]", text)) else "en"


def fits(text: str, language: str) -> bool:
    """Whether a persona string can appear in a text of `language` without mixing languages."""
    if language == "en":
        return not HAN.search(text)
    return bool(HAN.search(text)) or not LATIN_WORD.search(text)


# ---------------------------------------------------------------------------------------- subjects

_ZH_LEAD = re.compile(
    r"^(?:你好呀?|您好|嗨|哈喽|哈啰|早上好|晚上好|下午好|早安|早呀|早(?=[，,!！~～\s])|请问一下|请问|那个|对了|话说|诶|欸|嗯|哎|喂|"
    r"想问一下|问一下|问下|打扰一下|打扰了)[，,!！~～、\s]*"
)
_ZH_CLAUSES = re.compile(r"[，,。！!？?；;~～\n]+")
_ZH_TRIM_FRONT = re.compile(
    r"^(?:你们|你|您|我们|我|大家|有人|谁|这边|那边|这里|那里|这个|那个|这些|那些|一些|一下|一点|有点|点|些|"
    r"一个|一本|一家|个|本|家|种|最近|今天|明天|后天|昨天|今晚|明晚|早上|上午|中午|下午|晚上|这周|下周|周末|现在|"
    r"平时|一般|还|也|都|就|在|去|到|有|的|觉得|知道|认识|关于|说说|聊聊|啥|什么|真的|比较|挺|很|好多|很多|许多|不少|"
    r"好像|似乎)+"
)
_ZH_TRIM_BACK = re.compile(
    r"(?:吗|呢|吧|啊|呀|嘛|么|哦|了|的|啦|没|没有|不|好|哪|里|儿|一下|可以|推荐|推荐一下|怎么样|如何|好不好|"
    r"有什么|在哪|在哪里|在哪儿|呀|到底|好像|似乎|可能|应该|大概)+$"
)
_ZH_PLAN_TIMES = frozenset(("周末", "明天", "今晚", "下周", "假期", "周六", "周日", "放假", "晚上"))
_ZH_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        r"(周末|明天|今晚|下周|假期|周六|周日|放假|晚上)(?:有什么|有啥|有)?(?:打算|计划|安排)",
        r"(?:有什么|有没有|有啥|有哪些)(?:值得|可以|好的|推荐的|好看的|好喝的|好吃的|好玩的|好听的|不错的|新的)*(.+?)"
        r"(?:推荐|可以推荐|值得|吗|呢|嘛|$)",
        r"推荐(?:一下|一些|一个|一本|一家|点|个|本|家)?(?:好的|好看的|好喝的|好吃的|好玩的|好听的|不错的)?(.+?)"
        r"(?:吗|呢|吧|给我|$)",
        r"(?:我的|我)(.+?)(?:丢了|不见了|找不到了|找不到|落在|弄丢)",
        r"(?:看到|见过|捡到|看见)(?:过)?(?:我的|一个|一把|一只)?(.+?)(?:吗|没|了吗|$)",
        r"(.+?)(?:几点|什么时候|啥时候)(?:开门|关门|营业|开始|结束|开|关|打烊)",
        r"(.+?)(?:在哪里|在哪儿|在哪|怎么走)",
        r"哪(?:里|儿)(?:有|能买到|能找到|可以买到)(.+?)(?:吗|呢|$)",
        r"(?:读|看|听|玩|吃|喝|做|学|练)(?:的)?(?:什么|啥|哪些|哪本|哪首)(.+?)(?:呢|吗|啊|$)",
        r"(?:喜欢|爱|会|常|玩|听|看|去)(.+?)(?:吗|么|嘛|不)",
        r"(.+?)(?:怎么样|如何|好不好|好吗|咋样|靠谱吗|值得吗|贵吗|难吗|好玩吗|好喝吗|好看吗)",
        r"(?:关于|聊聊|说说|讲讲|聊一聊|说起|想起|谈谈)(.+?)(?:就|的|了|吧|呢|吗|啊|这件事|这个|$)",
        r"(?:觉得|认为)(.+?)(?:怎么样|如何|好|吗|呢|$)",
        r"有(.+?)(?:吗|没有|没|呢)",
    )
)


def _subject_zh(text: str, grammar: Grammar) -> str | None:
    text = text.strip()
    if title := re.search(r"《[^》]{1,20}》", text):
        return title.group(0)
    body = text
    while (lead := _ZH_LEAD.match(body)) and lead.end() > 0:
        body = body[lead.end() :]
    clauses = [c for c in _ZH_CLAUSES.split(body) if c.strip()]
    asking = [c for c in clauses if _ZH_QUESTION_WORDS.search(c)]
    for clause in [*asking, *clauses]:
        for pattern in _ZH_PATTERNS:
            if match := pattern.search(clause):
                raw = match.group(1)
                term = raw if raw in _ZH_PLAN_TIMES else _trim_zh(raw, grammar)
                if term:
                    return term
    return _lexicon_hit(text, grammar)


def _trim_zh(raw: str, grammar: Grammar) -> str | None:
    term = raw.strip()
    for _ in range(3):
        term = _ZH_TRIM_BACK.sub("", _ZH_TRIM_FRONT.sub("", term))
    if "的" in term:  # a noun phrase ends with its head: 好喝的手冲豆子 -> 手冲豆子
        term = term.rsplit("的", 1)[1] or term.rsplit("的", 1)[0]
    # a place named before what is asked about it: 咖啡馆有手冲豆子 -> 手冲豆子
    for marker in ("有", "里", "卖"):
        head, _, tail = term.partition(marker)
        if head and len(tail) >= 2 and any(w in head for w in grammar.places):
            term = tail
    term = term.strip("的了 ")
    if not term or not HAN.search(term) or term in grammar.stop_subjects:
        return None
    if len(term) > 8:  # too long to be a term: keep the known word in it if any
        return _lexicon_hit(term, grammar) or term[-4:]
    return term


_EN_LEAD = re.compile(
    r"^(?:(?:hey|hi|hello|yo|morning|evening|good (?:morning|afternoon|evening)|so|also|btw|oh|ok|okay|"
    r"quick question)"
    r"[,!.:\s-]*)+",
    re.IGNORECASE,
)
_EN_VOCATIVE = re.compile(r"^[A-Z][\w'-]+(?: [A-Z][\w'-]+)?,\s+")
_EN_TAIL = (
    r"(?:\s+(?:at|in|near|around|from|for|on)\s+(?:the\s+)?(?:bookstore|library|market|caf[eé]|cafe|gym|park|"
    r"harbou?r|pier|bar|plaza|studio|school|clinic|town|here|there|(?-i:[A-Z][\w']+(?: [A-Z][\w']+)*)))?"
    r"(?:\s+(?:today|tonight|tomorrow|yesterday|last night|this (?:morning|afternoon|evening|week(?:end)?)|"
    r"these days|lately|right now|now|anymore|again|recently|at the moment|by any chance|at all|much|often|"
    r"a lot|all day|all night|all the time|forever))?\s*[?.!]*$"
)
# (pattern, whether it only reads a question): "is the gym open" asks; "the peonies are open" tells.
_EN_PATTERNS: tuple[tuple[re.Pattern[str], bool], ...] = tuple(
    (re.compile(p, re.IGNORECASE), asks)
    for p, asks in (
        (r"\b(?:lost|can't find|cannot find|misplaced|left)\s+(?:my|a|an|the|our)\s+(.+?)" + _EN_TAIL, False),
        (
            r"\b(?:have you|has anyone|did you|did anyone)\s+(?:seen|found|picked up)\s+"
            r"(?:my|a|an|the)\s+(.+?)" + _EN_TAIL,
            True,
        ),
        (
            r"\bdo you (paint|draw|cook|run|read|sing|swim|dance|garden|knit|fish|travel)\b"
            r"(?:\s+(?:at all|much|often|a lot|anymore|these days))?\s*\?",
            True,
        ),
        (
            r"\b(?:when|what time)\s+(?:does|do|is|will|did)\s+(?:the\s+)?(.+?)\s+"
            r"(?:open|close|start|end|shut)\b",
            True,
        ),
        (r"\b(?:opening|closing) (?:hours|times) (?:of|for|at) (?:the\s+)?(.+?)" + _EN_TAIL, False),
        (
            r"\bwhere\s+(?:is|are|can i (?:find|get|buy)|do i (?:find|get|buy)|did you (?:get|buy|find))\s+"
            r"(?:the|a|an|some|my|good)?\s*(.+?)" + _EN_TAIL,
            True,
        ),
        (
            r"\b(?:plans?|doing|up to)\b.*?\b(weekend|tonight|tomorrow|holiday|holidays|saturday|sunday|"
            r"the evening|next week)\b",
            True,
        ),
        (
            r"\bany\s+(?:good|nice|great|decent|new|fun|favourite|favorite)?\s*(?:recommendations?\s+(?:for|on)\s+)?"
            r"(.+?)" + _EN_TAIL,
            True,
        ),
        (
            r"\brecommend(?:ations?)?\s+(?:for\s+|on\s+)?(?:me\s+)?(?:a|an|some|any|good|nice|the)?\s*(?:good\s+)?(.+?)"
            + _EN_TAIL,
            True,
        ),
        (r"\bwhat do you (?:think|reckon|make) (?:of|about)\s+(?:the\s+)?(.+?)" + _EN_TAIL, True),
        (r"\bhow (?:is|was|are|were|'s)\s+(?:the\s+|your\s+)?(.+?)" + _EN_TAIL, True),
        (
            r"\b(?:can you|do you know how to)\s+(?:play|cook|paint|draw|sing|speak|brew|make|code)\s+"
            r"(?:the\s+|a\s+)?(.+?)" + _EN_TAIL,
            True,
        ),
        (
            r"\bdo you (?:like|enjoy|play|know|listen to|read|drink|do|follow|paint|cook|run)\s+"
            r"(?:the\s+|any\s+)?(.+?)" + _EN_TAIL,
            True,
        ),
        (r"\b(?:is|are)\s+(?:the\s+)?(.+?)\s+(?:open|busy|any good|worth it|good|nice|crowded|far)\b", True),
        (r"\b(?:about|into|thinking of|talk about|chat about)\s+(?:the\s+)?(.+?)" + _EN_TAIL, False),
    )
)
_EN_NOUN_AFTER_DETERMINER = re.compile(
    r"\b(?:the|my|our|a|an|some|this|these|those|your)\s+((?:[a-z][a-z'-]+\s+)?[a-z][a-z'-]{2,})",
    re.IGNORECASE,
)
_EN_OPENS_WITH_DETERMINER = re.compile(r"^(?:the|my|our|this|these|those)\s", re.IGNORECASE)
_EN_FUNCTION_WORDS = frozenset(
    ["with", "for", "of", "at", "in", "on", "and", "but", "to", "from", "by", "about", "that", "which"]
) | frozenset(
    [
        "is",
        "was",
        "are",
        "were",
        "has",
        "had",
        "have",
        "looks",
        "looked",
        "seems",
        "got",
        "will",
        "can",
        "smells",
        "tastes",
    ]
)
_EN_ADJECTIVES = frozenset(
    (
        "good",
        "great",
        "new",
        "old",
        "little",
        "big",
        "nice",
        "lovely",
        "fresh",
        "first",
        "last",
        "best",
        "small",
        "long",
        "short",
        "whole",
        "same",
        "other",
        "quiet",
        "busy",
        "early",
        "late",
        "warm",
        "cold",
        "hot",
        "real",
        "proper",
    )
)
_EN_DROP_FRONT = re.compile(
    r"^(?:the|a|an|some|any|my|your|our|this|that|these|those|good|nice|(?:tips|advice|ideas|suggestions|thoughts|"
    r"recommendations?)\s+(?:for|on|about))\s+",
    re.IGNORECASE,
)


def _subject_en(text: str, grammar: Grammar) -> str | None:
    body = text.strip()
    if quoted := re.search(r"[\"“]([^\"”]{2,40})[\"”]", body):
        return quoted.group(1)
    body = _EN_LEAD.sub("", body)
    body = _EN_VOCATIVE.sub("", body)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", body) if s.strip()]
    asking = [s for s in sentences if "?" in s]
    for sentence in [*asking, *sentences]:
        for pattern, asks in _EN_PATTERNS:
            if asks and sentence not in asking:
                continue
            if match := pattern.search(sentence):
                term = _trim_en(match.group(1), grammar)
                if term:
                    return term
    # a statement opening with "The peonies..." names its subject; otherwise a known word beats any noun
    opening = _noun_after_determiner(body, grammar) if _EN_OPENS_WITH_DETERMINER.match(body) else None
    return opening or _lexicon_hit(text, grammar) or _noun_after_determiner(body, grammar)


def _noun_after_determiner(text: str, grammar: Grammar) -> str | None:
    """The first "the/my/a <noun>" of a statement: "The peonies at my stall are out" -> "peonies"."""
    for match in _EN_NOUN_AFTER_DETERMINER.finditer(text):
        words = [w for w in match.group(1).split() if w.lower() not in _EN_ADJECTIVES]
        if len(words) == 2 and words[1].lower() in _EN_FUNCTION_WORDS:  # "the market was" -> market
            words = words[:1]
        if words and words[-1].lower() not in grammar.stop_subjects and not words[-1].lower().endswith("ly"):
            return " ".join(words)
    return None


def _trim_en(raw: str, grammar: Grammar) -> str | None:
    term = re.split(r"\s*[;:,—–]\s*", raw.strip(), maxsplit=1)[0].strip(" .!?'\"")  # one clause
    for _ in range(2):
        term = _EN_DROP_FRONT.sub("", term)
    words = term.split()
    if not words or len(words) > 6:
        return _lexicon_hit(term, grammar) if words else None
    if all(w.lower() in grammar.stop_subjects for w in words):
        return None
    return term


def known_word(text: str, language: str) -> str | None:
    """The longest word of the lexicon (places, things, the domains' words) in `text`, if any."""
    return _lexicon_hit(text, GRAMMARS["en" if language == "en" else "zh"])


def _inside_a_name(text: str, at: int) -> bool:
    """Whether an English word at `at` is capitalised mid-sentence, as in a proper name."""
    if not text[at : at + 1].isupper():
        return False
    before = text[:at].rstrip()
    return bool(before) and before[-1] not in '.!?:;"“'


def _lexicon_hit(text: str, grammar: Grammar) -> str | None:
    """The longest known word in `text`; a place loses to a thing ("在广场下棋": 下棋), then the earliest."""
    best: tuple[int, int, int, str] | None = None
    for match in grammar.lexicon_words.finditer(text.lower()):
        word, at = match.group(1), match.start()
        if _inside_a_name(text, at):
            continue  # "Harbor" of "Old Harbor Pier" is a place's name, not what the text is about
        rank = (int(word not in grammar.places), len(word), -at)
        if best is None or rank > best[:3]:
            best = (*rank, text[at : at + len(word)])
    return best[3] if best else None


def question_kind(text: str, language: str, subject: str | None) -> str:
    """lost, invite, doing, meet, hours, recommend, where, plans, weather, wellbeing, opinion, can, like,
    habit, yesno or question: what kind of answer the text asks for."""
    for kind, pattern in _KINDS_EN if language == "en" else _KINDS_ZH:
        if pattern.search(text):
            if kind == "wellbeing" and subject and not _ABOUT_ONESELF[language].search(text):
                continue  # "最近X怎么样" asks about X
            return kind
    return "question"


# questions about the one asked, whatever words they carry
_ABOUT_ONESELF = {
    "zh": re.compile(r"睡得(?:好|怎么样|还好)|按时吃饭|吃饭了吗|吃了吗|身体(?:好|怎么样|还好)|累不累|心情"),
    "en": re.compile(
        r"sleeping well|eating properly|enough sleep|feeling (?:ok|okay|better|alright)", re.IGNORECASE
    ),
}


_KINDS_ZH: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(p))
    for kind, p in (
        ("lost", r"丢了|不见了|找不到|落在|弄丢|捡到|看到我的|看见我的"),
        ("invite", r"你去吗|去不去|一起去|要不要一起|你来吗|来不来|一起吗"),
        ("doing", r"在(?:读|看|听|玩|学|练|忙|做)(?:的)?(?:什么|啥|哪)"),
        ("meet", r"几点(?:碰头|见|集合|出发|碰面)|什么时候(?:见|碰头|出发|碰面)|在哪(?:碰头|见|集合|碰面)"),
        ("hours", r"几点(?:开|关|营业|打烊)|什么时候(?:开|关)|开门|关门|营业|打烊|开放时间"),
        ("recommend", r"推荐|有什么好|有没有好|哪家|哪个好|哪本|值得一"),
        ("where", r"在哪|哪里|哪儿|怎么走"),
        ("plans", r"打算|计划|安排"),
        ("weather", r"天气|下雨|会不会下|冷不冷|热不热|刮风|带伞"),
        (
            "wellbeing",
            r"最近(?:怎么样|还好|好吗|忙吗)|你还好|过得怎么样|过得好吗|身体好吗|累不累|今天怎么样|心情|"
            r"睡得(?:好|怎么样|还好)|按时吃饭|吃饭了吗|吃了吗",
        ),
        ("opinion", r"怎么样|觉得|如何|怎么看|好不好|咋样|心得|看法|想法|建议|意见"),
        ("can", r"你?会(?:不会)?[^吗]{1,8}吗|会不会|能不能教"),
        ("like", r"喜欢|爱不爱|感兴趣"),
        ("habit", r"你?(?:常|经常|平时)(?:去|来|喝|吃|用|玩)|常来|(?:听|见|去|试|喝|吃|看|读|玩)过"),
        ("yesno", r"吗|么|是不是|能不能|会不会|要不要|可不可以"),
    )
)
_KINDS_EN: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(p, re.IGNORECASE))
    for kind, p in (
        ("lost", r"\blost\b|can't find|cannot find|misplaced|seen my|found my|left my"),
        (
            "invite",
            r"are you (?:going|coming)|want to (?:go|come)|fancy (?:going|coming)|join (?:me|us)|coming to",
        ),
        ("doing", r"what are you (?:reading|listening to|watching|working on|learning|playing)"),
        (
            "meet",
            r"what time shall we|when shall we|where shall we meet|what time should we|where should we meet",
        ),
        ("hours", r"\bopen\b|\bclose\b|\bcloses\b|opening hours|when does"),
        (
            "recommend",
            r"recommend|\bany good\b|\bany nice\b|suggest|\bbest\b|worth (?:reading|trying|a visit)|\btips\b|"
            r"advice",
        ),
        ("where", r"\bwhere\b"),
        ("plans", r"\bplans?\b|up to this|doing this|doing tonight|doing tomorrow"),
        ("weather", r"weather|\brain\b|raining|sunny|umbrella|\bcold\b|\bhot\b|\bwind"),
        (
            "wellbeing",
            r"how are you|how're you|how have you been|how's it going|how are things|you ok|doing ok|"
            r"how's your day|how is your day|how are you doing|sleeping well|eating properly|enough sleep|"
            r"feeling (?:ok|okay|better|alright)",
        ),
        (
            "opinion",
            r"what do you think|how (?:is|was|are|were)|opinion|thoughts on|what's .+ like|your take",
        ),
        ("like", r"do you (?:like|enjoy|love)|are you into|fan of"),
        (
            "habit",
            r"do you (?:often |ever )?(?:go|come|visit|eat|drink|get|use)\b|have you (?:ever )?(?:been|tried|"
            r"heard|read|watched|played)|been to|ever (?:tried|watched|been|played)",
        ),
        (
            "can",
            r"can you (?:play|cook|paint|draw|sing|speak|run|swim|make|brew|code|teach)|do you know how to|"
            r"any good at",
        ),
        ("yesno", r"^(?:\w+,\s*)?(?:do|does|did|is|are|was|were|can|could|would|will|should|have|has)\b"),
    )
)
