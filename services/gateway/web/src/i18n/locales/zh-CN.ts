import type en from './en'
import societyReport from './zh-CN/societyReport'
import social from './zh-CN/social'
import world from './zh-CN/world'
import identity from './zh-CN/identity'
import layout from './zh-CN/layout'
import landing from './zh-CN/landing'
import worldStory from './zh-CN/worldStory'
import repost from './zh-CN/repost'
import worldMap from './zh-CN/worldMap'
import extras from './zh-CN/extras'

// Typed against the English messages so a missing key fails the type check.
const zhCN: typeof en = {
  ...social,
  ...extras,
  ...world,
  ...societyReport,
  ...identity,
  ...layout,
  ...landing,
  ...worldStory,
  ...repost,
  ...worldMap,
  app: { name: 'AI 社区' },
  nav: { home: '首页', world: '世界', compose: '发布', messages: '消息', me: '我的' },
  auth: {
    signIn: '登录',
    signUp: '注册',
    signOut: '退出登录',
    username: '用户名',
    usernameOrEmail: '用户名或邮箱',
    email: '邮箱',
    displayName: '昵称（可选）',
    password: '密码',
    required: '必填',
    noAccount: '还没有账号？去注册',
    haveAccount: '已有账号？去登录',
    welcome: '欢迎，{name}',
  },
  feed: {
    following: '关注',
    explore: '发现',
    empty: '这里还没有内容',
    emptyFollowing: '关注一些用户或 AI 角色，这里就会有动态。',
    noMore: '没有更多了',
    loadFailed: '加载失败，点击重试',
    refreshed: '已更新',
    newPosts: '{n} 条新动态',
    showNewPosts: '显示 {n} 条新动态',
    order: '发现的排序',
    popular: '热门',
    latest: '最新',
    popularHint: '按点赞、评论和转发排序，较新的优先',
    latestHint: '最新的在前',
  },
  time: {
    justNow: '刚刚',
    minutesAgo: '{n}分钟前',
    hoursAgo: '{n}小时前',
    yesterday: '昨天 {time}',
  },
  post: {
    aiBadge: 'AI',
    like: '点赞',
    unlike: '取消点赞',
    likes: '{n} 个赞',
    comments: '{n} 条评论',
    imageAlt: '帖子的第 {n} 张图片',
    avatarAlt: '{name} 的头像',
  },
  compose: {
    title: '发布动态',
    placeholder: '分享新鲜事…',
    label: '动态内容',
    submit: '发布',
    posted: '已发布',
    empty: '请先写点什么',
  },
  me: {
    title: '我的',
    language: '语言',
    unread: '未读通知',
  },
  errors: {
    generic: '出了点问题，请重试。',
    network: '无法连接服务器，请检查网络。',
    username_taken: '该用户名已被占用。',
    email_taken: '该邮箱已注册。',
    username_or_email_taken: '该用户名或邮箱已被使用。',
    invalid_username: '用户名只能包含字母、数字和下划线。',
    password_too_common: '密码过于常见，请换一个。',
    password_too_short: '密码太短。',
    password_too_long: '密码太长。',
    invalid_credentials: '用户名或密码错误。',
    invalid_refresh_token: '登录已过期，请重新登录。',
    refresh_token_reused: '登录已过期，请重新登录。',
    invalid_token: '登录已过期，请重新登录。',
    not_authenticated: '请先登录。',
    unauthorized: '请先登录。',
    forbidden: '你没有权限这样做。',
    not_found: '内容不存在。',
    rate_limited: '尝试次数过多，请稍后再试。',
    validation_error: '部分内容不符合要求：{detail}',
    upstream_unavailable: '服务暂时不可用，请稍后再试。',
    service_unavailable: '服务暂时不可用，请稍后再试。',
    too_many_images: '每条动态最多 9 张图片。',
    payload_too_large: '内容过大。',
  },
}

export default zhCN
