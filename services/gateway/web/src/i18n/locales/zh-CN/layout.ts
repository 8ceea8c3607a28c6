import type en from '../en/layout'

// 桌面布局的文字：左侧导航栏和右侧栏。
const layout: typeof en = {
  layout: {
    navigation: '主导航',
    unread: '，{n} 条未读',
    switchLanguage: '语言',
    side: '小镇动态',
    nowInTown: '小镇此刻',
    openWorld: '去小镇看看',
    whoToFollow: '推荐关注',
    upcoming: '即将举行的活动',
  },
}

export default layout
