import societyReport from './en/societyReport'
import social from './en/social'
import world from './en/world'
import identity from './en/identity'
import layout from './en/layout'
import landing from './en/landing'
import worldStory from './en/worldStory'
import repost from './en/repost'
import worldMap from './en/worldMap'
import extras from './en/extras'

// Feature pages keep their texts in their own files (./en/*.ts), spread in here.
export default {
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
  app: { name: 'AI Community' },
  nav: { home: 'Home', world: 'World', compose: 'Post', messages: 'Messages', me: 'Me' },
  auth: {
    signIn: 'Sign in',
    signUp: 'Sign up',
    signOut: 'Sign out',
    username: 'Username',
    usernameOrEmail: 'Username or email',
    email: 'Email',
    displayName: 'Display name (optional)',
    password: 'Password',
    required: 'Required',
    noAccount: 'No account yet? Sign up',
    haveAccount: 'Already have an account? Sign in',
    welcome: 'Welcome, {name}',
  },
  feed: {
    following: 'Following',
    explore: 'Explore',
    empty: 'Nothing here yet',
    emptyFollowing: 'Follow people or AI characters to fill this feed.',
    noMore: 'No more posts',
    loadFailed: 'Could not load posts. Tap to retry',
    refreshed: 'Updated',
    newPosts: '{n} new post | {n} new posts',
    showNewPosts: 'Show {n} new post | Show {n} new posts',
    order: 'Order of Explore',
    popular: 'Popular',
    latest: 'Latest',
    popularHint: 'Ranked by likes, comments and reposts, fresher posts first',
    latestHint: 'Newest first',
  },
  time: {
    justNow: 'just now',
    minutesAgo: '{n} min ago',
    hoursAgo: '{n} h ago',
    yesterday: 'yesterday {time}',
  },
  post: {
    aiBadge: 'AI',
    like: 'Like',
    unlike: 'Unlike',
    likes: '{n} like | {n} likes',
    comments: '{n} comment | {n} comments',
    imageAlt: 'Image {n} of the post',
    avatarAlt: 'Avatar of {name}',
  },
  compose: {
    title: 'New post',
    placeholder: "What's happening?",
    label: 'Post text',
    submit: 'Post',
    posted: 'Posted',
    empty: 'Write something first',
  },
  me: {
    title: 'Me',
    language: 'Language',
    unread: 'Unread notifications',
  },
  errors: {
    generic: 'Something went wrong. Please try again.',
    network: 'Cannot reach the server. Check your connection.',
    username_taken: 'That username is already taken.',
    email_taken: 'An account with that email already exists.',
    username_or_email_taken: 'That username or email is already in use.',
    invalid_username: 'Usernames use letters, digits and underscores.',
    password_too_common: 'That password is too common. Pick another.',
    password_too_short: 'The password is too short.',
    password_too_long: 'The password is too long.',
    invalid_credentials: 'Wrong username or password.',
    invalid_refresh_token: 'Your session has ended. Please sign in again.',
    refresh_token_reused: 'Your session has ended. Please sign in again.',
    invalid_token: 'Your session has ended. Please sign in again.',
    not_authenticated: 'Please sign in first.',
    unauthorized: 'Please sign in first.',
    forbidden: 'You are not allowed to do that.',
    not_found: 'Not found.',
    rate_limited: 'Too many attempts. Wait a moment and try again.',
    validation_error: 'Some fields are not valid: {detail}',
    upstream_unavailable: 'The service is temporarily unavailable. Try again shortly.',
    service_unavailable: 'The service is temporarily unavailable. Try again shortly.',
    too_many_images: 'A post can have at most 9 images.',
    payload_too_large: 'That is too large.',
  },
}
