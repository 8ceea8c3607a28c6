"""A realistic, reproducible data set written straight into the auth and social databases.

    python -m aic_social.seed --social-db URL --auth-db URL --users 5000 --posts 100000 [--seed 7]

Benchmarks and tests call :func:`seed`. Everything is generated in memory first from random streams
derived from the seed (one per phase, so changing one phase does not reshuffle the others), the
counters are computed from the generated rows, and then the rows go in with multi-row inserts, one
transaction per batch. No events are published: this stands for history that already happened, not
for new activity. The databases must not hold seeded users or any posts yet (post ids follow time).

This is a workspace tool that spans two services, so it reads auth's models; the social service
itself never does.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import math
import random
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from aic_auth.models import User
from aic_auth.passwords import PasswordHasher
from aic_auth.settings import AuthSettings
from aic_common.db import create_db_engine
from aic_common.migrations import upgrade
from aic_social import search
from aic_social.models import Comment, Follow, Like, Post, Profile, SearchTerm

T = TypeVar("T")
DEFAULT_PASSWORD = "seed-community-2024"  # noqa: S105 - a known password is the point of test data
BATCH_SIZE = 5000
WRITERS = 2
AI_SHARE = 0.02
HISTORY_DAYS = 30
USERNAME_PREFIX = "seed_"
Progress = Callable[[str], None]


# ---------------------------------------------------------------- word lists

# Per topic: Chinese actions and places, English actions and places, and a hashtag in each language.
# Posts are built from these so that search has real Chinese and English terms to find.
TOPICS: dict[str, dict[str, Sequence[str]]] = {
    "coffee": {
        "zh_do": (
            "喝了一杯手冲咖啡",
            "试了新出的燕麦拿铁",
            "在窗边发呆看书",
            "学会了拉花",
            "买了一包埃塞俄比亚豆子",
        ),
        "zh_at": ("在街角的咖啡馆", "在公司楼下", "在家里的小阳台", "在老城区的小店"),
        "en_do": ("had the best flat white", "tried a new pour-over recipe", "finally nailed latte art"),
        "en_at": ("at the corner cafe", "at home", "near the office", "in the old town"),
        "tags": ("#咖啡", "#coffee"),
    },
    "travel": {
        "zh_do": ("看了一场日落", "爬上了山顶", "坐了一夜的火车", "迷路了两个小时", "吃到了当地的小吃"),
        "zh_at": ("在大理古城", "在西湖边", "在成都的巷子里", "在海边的小镇", "在东京的地铁站"),
        "en_do": (
            "watched the sunrise",
            "got lost for two hours",
            "took the night train",
            "hiked to the top",
        ),
        "en_at": ("in Kyoto", "by the lake", "in a tiny seaside town", "somewhere in Yunnan"),
        "tags": ("#旅行", "#travel"),
    },
    "food": {
        "zh_do": ("吃了一碗红油抄手", "做了番茄炒蛋", "排队买了生煎包", "尝试了做蛋糕", "煮了一锅火锅"),
        "zh_at": ("在楼下的面馆", "在家", "在夜市", "在朋友家", "在新开的餐厅"),
        "en_do": ("cooked dumplings from scratch", "found a great ramen place", "baked sourdough bread"),
        "en_at": ("downtown", "at home", "at the night market", "with friends"),
        "tags": ("#美食", "#foodie"),
    },
    "coding": {
        "zh_do": (
            "修了一个诡异的并发问题",
            "重构了整个模块",
            "写完了单元测试",
            "学习了数据库索引",
            "部署了新版本",
        ),
        "zh_at": ("在公司", "在家", "在深夜", "在周末"),
        "en_do": ("fixed a nasty race condition", "refactored the whole module", "shipped the new release"),
        "en_at": ("at work", "late at night", "on a Sunday", "before lunch"),
        "tags": ("#编程", "#coding"),
    },
    "music": {
        "zh_do": ("听了一整天的周杰伦", "去看了一场现场演出", "练了两个小时吉他", "发现了一支很棒的乐队"),
        "zh_at": ("在livehouse", "在回家的路上", "在房间里", "在音乐节"),
        "en_do": ("saw an amazing live show", "practised guitar for two hours", "discovered a great band"),
        "en_at": ("at the festival", "on the way home", "in my room", "at a tiny bar"),
        "tags": ("#音乐", "#music"),
    },
    "reading": {
        "zh_do": ("读完了三体", "重读了红楼梦", "买了五本新书", "参加了读书会", "读了一首很美的诗"),
        "zh_at": ("在图书馆", "在地铁上", "在书店", "在床上"),
        "en_do": ("finished a great novel", "joined a book club", "bought way too many books"),
        "en_at": ("at the library", "on the subway", "in a quiet bookstore", "in bed"),
        "tags": ("#读书", "#books"),
    },
    "sports": {
        "zh_do": ("跑了十公里", "打了一场篮球", "游了一千米", "第一次去攀岩", "骑车绕了一圈"),
        "zh_at": ("在江边", "在公园", "在体育馆", "在健身房"),
        "en_do": ("ran ten kilometres", "played basketball", "went climbing for the first time"),
        "en_at": ("by the river", "in the park", "at the gym", "at dawn"),
        "tags": ("#运动", "#running"),
    },
    "pets": {
        "zh_do": ("家里的猫又打翻了水杯", "带狗狗去散步", "给猫咪买了新玩具", "小猫第一次洗澡"),
        "zh_at": ("在客厅", "在小区里", "在宠物店", "在沙发上"),
        "en_do": ("my cat knocked over a glass again", "walked the dog", "adopted a kitten"),
        "en_at": ("in the living room", "around the block", "at the shelter", "on the sofa"),
        "tags": ("#猫", "#cats"),
    },
    "photography": {
        "zh_do": ("拍到了完美的晚霞", "换了一支新镜头", "冲洗了一卷胶片", "记录了城市的夜景"),
        "zh_at": ("在天台上", "在老街", "在海边", "在山上"),
        "en_do": ("caught the perfect golden hour", "developed a roll of film", "shot the city at night"),
        "en_at": ("on the rooftop", "in the old streets", "at the beach", "up the hill"),
        "tags": ("#摄影", "#photography"),
    },
    "games": {
        "zh_do": ("通关了塞尔达", "和朋友开黑到半夜", "抽到了限定角色", "玩了一局桌游"),
        "zh_at": ("在家", "在网吧", "在朋友家", "在周末"),
        "en_do": ("finally beat the final boss", "played board games all night", "speedran a level"),
        "en_at": ("with friends", "at home", "all weekend", "online"),
        "tags": ("#游戏", "#gaming"),
    },
    "ai": {
        "zh_do": ("和人工智能聊了一晚上", "训练了一个小模型", "用大模型写了一首诗", "读了一篇机器学习论文"),
        "zh_at": ("在实验室", "在家", "在会议上", "在咖啡馆"),
        "en_do": ("trained a tiny language model", "chatted with an AI all evening", "read a new ML paper"),
        "en_at": ("in the lab", "at home", "at a meetup", "over coffee"),
        "tags": ("#人工智能", "#AI"),
    },
}
ZH_WHEN = ("今天", "昨天", "刚才", "周末", "早上", "下班后", "今晚", "上周")
ZH_FEEL = (
    "心情特别好",
    "有点累但很开心",
    "强烈推荐",
    "下次还要再来",
    "太治愈了",
    "感觉生活很美好",
    "有点小失望",
    "完全没想到",
)
ZH_ASK = ("有人一起吗？", "大家有什么推荐？", "你们觉得呢？", "求推荐！")
ZH_END = ("。", "！", "～", "。。", "！！")
EN_OPEN = ("Just", "Finally", "Today I", "Yesterday I", "This morning I", "Somehow I")
EN_FEEL = (
    "Feeling great.",
    "Tired but happy.",
    "Highly recommend!",
    "Best day this week.",
    "Not what I expected.",
    "Will do it again.",
)
EN_ASK = ("Anyone want to join?", "Any recommendations?", "What do you think?", "Thoughts?")
EMOJI = ("😂", "☕", "🌇", "🎉", "🐱", "📚", "🏃", "🍜", "✨", "👍", "🤖", "🎮")
ZH_COMMENTS = ("哈哈哈", "太棒了！", "同感", "在哪里呀？", "羡慕", "好看！", "下次带上我", "学到了", "加油！")
EN_COMMENTS = ("Love this!", "So jealous", "Where is this?", "Same here", "Nice!", "Count me in", "lol")
ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程"
ZH_GIVEN = "伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚桂英华建文辉玲晨雨欣怡子涵梓轩浩宇思琪雪梅晓"
EN_FIRST = (
    "Alice",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Felix",
    "Grace",
    "Henry",
    "Iris",
    "Jack",
    "Kate",
    "Leo",
    "Mia",
    "Noah",
    "Olivia",
    "Sam",
)
EN_LAST = ("Chen", "Wang", "Smith", "Lee", "Garcia", "Kim", "Nguyen", "Brown", "Zhang", "Lin", "Ito")
ZH_BIO = ("热爱生活", "咖啡续命", "在路上", "程序员一枚", "爱猫人士", "摄影爱好者", "读书使人快乐")
EN_BIO = ("Coffee first.", "Always on the road.", "Writes code, drinks tea.", "Cat person.", "Reader.")
AI_NAMES = ("小智", "Ada", "阿星", "Nova", "小白", "Echo", "墨墨", "Iris-AI", "云朵", "Pixel")
# Share of the day's posts per UTC hour: people (mostly UTC+8) post in their evening, little at night.
HOUR_WEIGHTS = (8, 9, 9, 8, 6, 5, 5, 6, 7, 8, 10, 11, 12, 12, 11, 8, 5, 3, 2, 1, 1, 2, 4, 6)


# ---------------------------------------------------------------- the generated data


@dataclass
class SeedUser:
    index: int
    id: str
    username: str
    display_name: str
    bio: str
    is_ai: bool
    created_at: datetime
    interests: tuple[str, ...]
    chinese_share: float  # how likely each sentence this person writes is Chinese
    popularity: float
    activity: float
    followees: list[int] = field(default_factory=list)
    followers: list[int] = field(default_factory=list)
    post_count: int = 0


@dataclass
class SeedPost:
    id: int
    author: int
    content: str
    created_at: datetime
    likers: list[int] = field(default_factory=list)
    comment_count: int = 0


@dataclass
class SeedComment:
    post_id: int
    author: int
    content: str
    created_at: datetime
    parent: SeedComment | None = None
    id: int = 0
    reply_count: int = 0


@dataclass
class SeedData:
    users: list[SeedUser]
    follows: list[tuple[int, int, datetime]]  # (follower, followee, when)
    posts: list[SeedPost]
    likes: list[tuple[int, int, datetime]]  # (post id, user, when)
    comments: list[SeedComment]


@dataclass(frozen=True)
class SeedSummary:
    users: int
    ai_users: int
    follows: int
    posts: int
    likes: int
    comments: int
    search_terms: int
    seconds: float
    password: str
    most_followed: str  # username of the account with the most followers
    max_followers: int
    ai_usernames: tuple[str, ...]  # they have no password; every other seeded user can sign in


def username_of(index: int, width: int) -> str:
    return f"{USERNAME_PREFIX}{index + 1:0{width}d}"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _before(moment: datetime, latest: datetime) -> datetime:
    return moment if moment < latest else latest - timedelta(microseconds=1)


def _stream(seed: int, phase: str) -> random.Random:
    # Reproducible test data, not secrets: a seeded PRNG is what we want.
    return random.Random(f"{seed}:{phase}")  # noqa: S311


def generate(users: int, posts: int, *, seed: int = 7, now: datetime | None = None) -> SeedData:
    """The whole data set in memory; the same arguments give the same data (``now`` anchors times)."""
    if users < 2 or posts < 0:
        raise ValueError("need at least 2 users and a non-negative number of posts")
    now = now or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    people = _generate_users(_stream(seed, "users"), users, now)
    follows = _generate_follows(_stream(seed, "follows"), people, now)
    seeded_posts = _generate_posts(_stream(seed, "posts"), people, posts, now)
    likes = _generate_likes(_stream(seed, "likes"), people, seeded_posts, now)
    comments = _generate_comments(_stream(seed, "comments"), people, seeded_posts, now)
    return SeedData(people, follows, seeded_posts, likes, comments)


def _generate_users(rng: random.Random, count: int, now: datetime) -> list[SeedUser]:
    width = max(5, len(str(count)))
    ai_count = max(1, round(count * AI_SHARE))
    ai_indexes = set(rng.sample(range(count), ai_count))
    # Zipf-like popularity over a random ranking: a handful of celebrities, a long tail of everyone else.
    ranking = list(range(count))
    rng.shuffle(ranking)
    popularity = [0.0] * count
    for rank, index in enumerate(ranking):
        popularity[index] = 1.0 / (rank + 3)
    topics = list(TOPICS)
    result = []
    for index in range(count):
        is_ai = index in ai_indexes
        chinese = rng.random() < 0.55
        if is_ai:
            display_name = f"{rng.choice(AI_NAMES)}·AI"
        elif chinese:
            display_name = rng.choice(ZH_SURNAMES) + "".join(rng.choices(ZH_GIVEN, k=rng.choice((1, 2))))
        else:
            display_name = f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"
        bio_words = ZH_BIO if chinese else EN_BIO
        bio = "，".join(rng.sample(bio_words, 2)) if chinese else " ".join(rng.sample(bio_words, 2))
        # Accounts are older than the posts' window, so no post predates its author.
        created_at = now - timedelta(days=HISTORY_DAYS + 1, seconds=rng.randrange(365 * 86400))
        # Most people post a little and a few a lot (log-normal); AI characters are busy by design.
        activity = rng.lognormvariate(0.0, 1.0) * (3.0 if is_ai else 1.0)
        if rng.random() < 0.15:
            activity *= 0.05  # lurkers
        result.append(
            SeedUser(
                index=index,
                id=_uuid(rng),
                username=username_of(index, width),
                display_name=display_name,
                bio=bio if rng.random() < 0.7 else "",
                is_ai=is_ai,
                created_at=created_at,
                interests=tuple(rng.sample(topics, rng.randint(2, 4))),
                chinese_share=rng.uniform(0.6, 0.95) if chinese else rng.uniform(0.05, 0.4),
                popularity=popularity[index],
                activity=activity,
            )
        )
    return result


def _generate_follows(
    rng: random.Random, people: list[SeedUser], now: datetime
) -> list[tuple[int, int, datetime]]:
    """Half of each person's picks by popularity (preferential), half uniformly: most follow 20-80
    accounts, the top accounts collect thousands of followers at 5 000 users."""
    count = len(people)
    cumulative = list(itertools.accumulate(p.popularity for p in people))
    total = cumulative[-1]
    cap = max(1, int(0.6 * (count - 1)))
    follows = []
    for person in people:
        wanted = round(rng.lognormvariate(math.log(42), 0.42))
        if rng.random() < 0.01:
            wanted = int(wanted * rng.uniform(3, 12))  # the rare follow-everyone account
        wanted = max(min(5, cap), min(wanted, cap))
        chosen: set[int] = set()
        while len(chosen) < wanted:
            if rng.random() < 0.5:
                other = min(bisect.bisect_right(cumulative, rng.random() * total), count - 1)
            else:
                other = rng.randrange(count)
            if other != person.index:
                chosen.add(other)
        for other in sorted(chosen):
            start = max(person.created_at, people[other].created_at)
            when = start + (now - start) * rng.random()
            follows.append((person.index, other, _before(when, now)))
            person.followees.append(other)
            people[other].followers.append(person.index)
    return follows


def _sentence(rng: random.Random, topic: str, chinese: bool) -> str:
    words = TOPICS[topic]
    if chinese:
        roll = rng.random()
        when, place, act = rng.choice(ZH_WHEN), rng.choice(words["zh_at"]), rng.choice(words["zh_do"])
        if roll < 0.6:
            return f"{when}{place}{act}，{rng.choice(ZH_FEEL)}{rng.choice(ZH_END)}"
        if roll < 0.8:
            return f"{place}{act}，{rng.choice(ZH_ASK)}"
        return f"{rng.choice(ZH_FEEL)}！{when}{act}{rng.choice(ZH_END)}"
    opener, act, place = rng.choice(EN_OPEN), rng.choice(words["en_do"]), rng.choice(words["en_at"])
    if rng.random() < 0.75:
        return f"{opener} {act} {place}. {rng.choice(EN_FEEL)}"
    return f"{opener} {act}. {rng.choice(EN_ASK)}"


def _post_text(rng: random.Random, people: list[SeedUser], author: SeedUser) -> str:
    topic = rng.choice(author.interests)
    parts = [
        _sentence(rng, topic, rng.random() < author.chinese_share) for _ in range(rng.choice((1, 1, 2, 2, 3)))
    ]
    if rng.random() < 0.25:
        parts.append(TOPICS[topic]["tags"][0 if rng.random() < author.chinese_share else 1])
    if rng.random() < 0.2:
        parts.append(rng.choice(EMOJI))
    if author.followees and rng.random() < 0.03:
        parts.insert(0, f"@{people[rng.choice(author.followees)].username}")
    return " ".join(parts)


def _generate_posts(rng: random.Random, people: list[SeedUser], count: int, now: datetime) -> list[SeedPost]:
    """Times over the last 30 days with a daily rhythm, sorted so that ids grow with time."""
    start = now - timedelta(days=HISTORY_DAYS)
    hours = list(range(24))
    times = sorted(
        start
        + timedelta(
            days=rng.randrange(HISTORY_DAYS),
            hours=rng.choices(hours, weights=HOUR_WEIGHTS)[0],
            seconds=rng.random() * 3600,
        )
        for _ in range(count)
    )
    authors = rng.choices(range(len(people)), weights=[p.activity for p in people], k=count)
    result = []
    for post_id, (when, author) in enumerate(zip(times, authors, strict=True), start=1):
        people[author].post_count += 1
        result.append(SeedPost(post_id, author, _post_text(rng, people, people[author]), when))
    return result


def _audience(rng: random.Random, people: list[SeedUser], author: SeedUser) -> int:
    """Someone who might react to ``author``'s post: usually a follower, sometimes anyone."""
    if author.followers and rng.random() < 0.75:
        return rng.choice(author.followers)
    return rng.randrange(len(people))


def _generate_likes(
    rng: random.Random, people: list[SeedUser], posts: list[SeedPost], now: datetime
) -> list[tuple[int, int, datetime]]:
    """A few likes per post on average, many more on posts of accounts with a large following."""
    likes = []
    for post in posts:
        author = people[post.author]
        reach = 1.0 + len(author.followers) / 150
        wanted = min(int(rng.expovariate(1.0) * 2.8 * reach), len(people) - 1, 2 * len(author.followers) + 5)
        likers: set[int] = set()
        attempts = 0
        while len(likers) < wanted and attempts < 4 * wanted + 10:
            attempts += 1
            liker = _audience(rng, people, author)
            if liker != post.author:
                likers.add(liker)
        post.likers = sorted(likers)
        for liker in post.likers:
            likes.append(
                (post.id, liker, _before(post.created_at + timedelta(hours=rng.expovariate(0.3)), now))
            )
    return likes


def _generate_comments(
    rng: random.Random, people: list[SeedUser], posts: list[SeedPost], now: datetime
) -> list[SeedComment]:
    """About a quarter of posts get comments; some are replies (one level) to an earlier comment."""
    comments: list[SeedComment] = []
    for post in posts:
        if rng.random() > 0.25:
            continue
        author = people[post.author]
        top_level: list[SeedComment] = []
        when = post.created_at
        for _ in range(1 + min(int(rng.expovariate(0.6)), 30)):
            when = _before(when + timedelta(minutes=rng.expovariate(1 / 45)), now)
            commenter = _audience(rng, people, author) if rng.random() < 0.85 else post.author
            chinese = rng.random() < people[commenter].chinese_share
            text = rng.choice(ZH_COMMENTS if chinese else EN_COMMENTS)
            parent = rng.choice(top_level) if top_level and rng.random() < 0.3 else None
            if parent is not None and rng.random() < 0.5:
                text = f"@{people[parent.author].username} {text}"
            comment = SeedComment(post.id, commenter, text, when, parent)
            if parent is None:
                top_level.append(comment)
            else:
                parent.reply_count += 1
            comments.append(comment)
            post.comment_count += 1
    # Comment ids, like post ids, grow with time; a reply is always later than its parent.
    comments.sort(key=lambda c: (c.created_at, c.post_id))
    for comment_id, comment in enumerate(comments, start=1):
        comment.id = comment_id
    return comments


# ---------------------------------------------------------------- writing


def _batches(rows: Iterable[T], size: int = BATCH_SIZE) -> Iterator[list[T]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _insert(engine: sa.Engine, table: sa.Table, rows: Iterable[dict[str, Any]]) -> int:
    """Multi-row inserts (executemany), one transaction per batch so no transaction grows huge.

    Two writer threads: while one waits on the database the next batch is built (the driver lets go
    of the GIL on I/O), about a third faster than one. Every row carries its own key, so the order in
    which batches land does not matter."""
    statement = table.insert()

    def write(batch: list[dict[str, Any]]) -> int:
        with engine.begin() as connection:
            connection.execute(statement, batch)
        return len(batch)

    written = 0
    pending: deque[Future[int]] = deque()
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="seed-writer") as pool:
        for batch in _batches(rows):
            if len(pending) >= 2 * WRITERS:  # bounded: the rows are not all built up front
                written += pending.popleft().result()
            pending.append(pool.submit(write, batch))
        while pending:
            written += pending.popleft().result()
    return written


def _search_rows(kind: str, doc_id: str, text: str) -> Iterator[dict[str, Any]]:
    # The same terms and weights as search.index_document writes one document at a time.
    for term, count in search.tokenize(text).items():
        yield {"term": term, "doc_kind": kind, "doc_id": doc_id, "weight": 1.0 + math.log(count)}


def _check_empty(social: sa.Engine, auth: sa.Engine) -> None:
    pattern = f"{USERNAME_PREFIX}%"
    with social.connect() as connection:
        if connection.scalar(sa.select(sa.func.count()).select_from(Post)):
            raise RuntimeError("the social database has posts already: seed an empty one")
        if connection.scalar(
            sa.select(sa.func.count()).select_from(Profile).where(Profile.username_key.like(pattern))
        ):
            raise RuntimeError("the social database holds seeded profiles already")
    with auth.connect() as connection:
        if connection.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.username_key.like(pattern))
        ):
            raise RuntimeError("the auth database holds seeded users already")


def default_password_hasher() -> PasswordHasher:
    """argon2id at auth's default settings, so a seeded hash verifies like a registered one."""
    fields = AuthSettings.model_fields
    return PasswordHasher(
        memory_kib=fields["argon2_memory_kib"].default,
        time_cost=fields["argon2_time_cost"].default,
        parallelism=fields["argon2_parallelism"].default,
    )


def _print(message: str) -> None:
    print(message, flush=True)


def seed(
    social_url: str,
    auth_url: str,
    *,
    users: int,
    posts: int,
    seed: int = 7,
    password: str = DEFAULT_PASSWORD,
    now: datetime | None = None,
    migrate: bool = True,
    progress: Progress = _print,
) -> SeedSummary:
    """Generate the data set and write it into both databases; returns what was written."""
    started = time.perf_counter()

    def step(message: str) -> None:
        progress(f"[{time.perf_counter() - started:7.1f}s] {message}")

    if migrate:
        upgrade("aic_auth:migrations", auth_url)
        upgrade("aic_social:migrations", social_url)
    social_engine, auth_engine = create_db_engine(social_url), create_db_engine(auth_url)
    try:
        _check_empty(social_engine, auth_engine)
        # One hash for everyone: argon2 is slow on purpose, and the salt only matters for real users.
        password_hash = default_password_hasher().hash(password)
        data = generate(users, posts, seed=seed, now=now)
        step(
            f"generated {len(data.users)} users, {len(data.follows)} follows, {len(data.posts)} posts, "
            f"{len(data.likes)} likes, {len(data.comments)} comments"
        )
        summary_counts = _write(social_engine, auth_engine, data, password_hash, step)
    finally:
        social_engine.dispose()
        auth_engine.dispose()
    seconds = time.perf_counter() - started
    star = max(data.users, key=lambda u: len(u.followers))
    step(f"done in {seconds:.1f}s")
    return SeedSummary(
        users=len(data.users),
        ai_users=sum(u.is_ai for u in data.users),
        follows=len(data.follows),
        posts=len(data.posts),
        likes=len(data.likes),
        comments=len(data.comments),
        search_terms=summary_counts,
        seconds=seconds,
        password=password,
        most_followed=star.username,
        max_followers=len(star.followers),
        ai_usernames=tuple(u.username for u in data.users if u.is_ai),
    )


def _write(social: sa.Engine, auth: sa.Engine, data: SeedData, password_hash: str, step: Progress) -> int:
    people = data.users
    _insert(
        auth,
        User.__table__,
        (
            {
                "id": u.id,
                "username": u.username,
                "username_key": u.username.lower(),
                "email": None if u.is_ai else f"{u.username}@example.com",
                "email_key": None if u.is_ai else f"{u.username}@example.com",
                "display_name": u.display_name,
                "password_hash": None if u.is_ai else password_hash,
                "role": "user",
                "is_ai": u.is_ai,
                "created_at": u.created_at,
                "updated_at": u.created_at,
            }
            for u in people
        ),
    )
    step("auth users written")
    _insert(
        social,
        Profile.__table__,
        (
            {
                "user_id": u.id,
                "username": u.username,
                "username_key": u.username.lower(),
                "display_name": u.display_name,
                "bio": u.bio,
                "avatar_file_id": None,
                "role": "user",
                "is_ai": u.is_ai,
                "deleted": False,
                "post_count": u.post_count,
                "follower_count": len(u.followers),
                "following_count": len(u.followees),
                "created_at": u.created_at,
                "updated_at": u.created_at,
            }
            for u in people
        ),
    )
    step("profiles written")
    _insert(
        social,
        Follow.__table__,
        (
            {"follower_id": people[a].id, "followee_id": people[b].id, "created_at": when}
            for a, b, when in sorted(data.follows, key=lambda f: (people[f[0]].id, people[f[1]].id))
        ),
    )
    step(f"{len(data.follows)} follows written")
    # Explicit ids in time order (the table is empty): the auto-increment counter moves past them.
    _insert(
        social,
        Post.__table__,
        (
            {
                "id": p.id,
                "author_id": people[p.author].id,
                "content": p.content,
                "image_ids": [],
                "location_id": None,
                "like_count": len(p.likers),
                "comment_count": p.comment_count,
                "created_at": p.created_at,
                "deleted_at": None,
                "deleted_by": None,
            }
            for p in data.posts
        ),
    )
    step(f"{len(data.posts)} posts written")
    _insert(
        social,
        Like.__table__,
        (
            {"post_id": post_id, "user_id": people[user].id, "created_at": when}
            for post_id, user, when in data.likes
        ),
    )
    step(f"{len(data.likes)} likes written")
    _insert(
        social,
        Comment.__table__,
        (
            {
                "id": c.id,
                "post_id": c.post_id,
                "author_id": people[c.author].id,
                "parent_id": c.parent.id if c.parent else None,
                "reply_count": c.reply_count,
                "content": c.content,
                "created_at": c.created_at,
                "deleted_at": None,
            }
            for c in data.comments
        ),
    )
    step(f"{len(data.comments)} comments written")
    terms = _insert(
        social,
        SearchTerm.__table__,
        itertools.chain(
            itertools.chain.from_iterable(
                _search_rows(search.USER, u.id, f"{u.username} {u.display_name}") for u in people
            ),
            itertools.chain.from_iterable(
                _search_rows(search.POST, str(p.id), p.content) for p in data.posts
            ),
        ),
    )
    step(f"{terms} search terms written")
    _analyze(social, ("profiles", "follows", "posts", "likes", "comments", "search_terms"))
    _analyze(auth, ("users",))
    step("statistics updated")
    return terms


def _analyze(engine: sa.Engine, tables: Sequence[str]) -> None:
    """Fresh statistics, so the optimizer plans for the data that is there now."""
    with engine.begin() as connection:
        if engine.dialect.name == "mysql":
            connection.exec_driver_sql(f"ANALYZE TABLE {', '.join(tables)}")
        elif engine.dialect.name == "sqlite":
            connection.exec_driver_sql("ANALYZE")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load a seeded data set into the auth and social databases.")
    parser.add_argument("--social-db", required=True, help="the social service's database URL")
    parser.add_argument("--auth-db", required=True, help="the auth service's database URL")
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="every seeded person's password")
    args = parser.parse_args(argv)
    summary = seed(
        args.social_db,
        args.auth_db,
        users=args.users,
        posts=args.posts,
        seed=args.seed,
        password=args.password,
    )
    print(
        f"seeded {summary.users} users ({summary.ai_users} AI), {summary.follows} follows, "
        f"{summary.posts} posts, {summary.likes} likes, {summary.comments} comments, "
        f"{summary.search_terms} search terms in {summary.seconds:.1f}s; "
        f"most followed: {summary.most_followed} ({summary.max_followers} followers); "
        f"password of people: {summary.password}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
