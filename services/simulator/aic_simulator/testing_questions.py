"""Questions people ask the characters of the default world, in Chinese and English, for the tests of
answers on topic (the whole community's and the LLM tier's): (character id, question), two or three for
each character, each to someone whose life it touches."""

from __future__ import annotations

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("lin_xiaoyu", "明天早上咖啡馆有什么推荐的手冲豆子吗？"),
    ("lin_xiaoyu", "咖啡馆几点开门呀？"),
    ("chen_mo", "你最近在画什么画？"),
    ("chen_mo", "画室的开放日是哪天？"),
    ("zhou_yang", "健身房有适合新手的课程吗？"),
    ("zhou_yang", "跑步前应该吃什么？"),
    ("su_wanqing", "图书馆有关于历史的书推荐吗？"),
    ("su_wanqing", "你喜欢哪首古诗？"),
    ("old_wang", "今天码头适合钓鱼吗？"),
    ("old_wang", "下象棋有什么窍门？"),
    ("li_na", "感冒了应该怎么办？"),
    ("li_na", "诊所周末开门吗？"),
    ("xiao_tao", "孩子学钢琴几岁开始比较好？"),
    ("xiao_tao", "放风筝去哪里比较好？"),
    ("emma_w", "Any good books on travel you'd recommend?"),
    ("emma_w", "What food should I try at the market?"),
    ("raj_k", "Which programming language should I learn first?"),
    ("raj_k", "Do you play chess at the plaza?"),
    ("hana_s", "Which flowers are in season now?"),
    ("hana_s", "What tea do you like in the morning?"),
    ("lin_xiaoyu", "下雨天咖啡馆人多吗？"),
    ("emma_w", "How is your novel going?"),
)
