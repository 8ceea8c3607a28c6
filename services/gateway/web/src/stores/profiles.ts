import { defineStore } from 'pinia'
import { reactive } from 'vue'
import { ApiError, api, request } from '@/api/client'
import { simApi, type AgentDetail, type LocationView } from '@/api/sim'
import type { Author, Page, Post, Profile, User } from '@/api/types'
import { useAuthStore } from './auth'
import { useFeedStore } from './feed'
import { usernameKey } from './ids'
import { emptyPagedList, loadNextPage, type PagedList } from './paging'
import { onSignedOut } from './session'

export const PROFILE_POSTS_PAGE = 20
export const CONNECTIONS_PAGE = 30

/** A person's followers, or the people they follow. */
export type ConnectionKind = 'followers' | 'following'

/** How often, and after how long, a new avatar is offered again while the files service's news of it
 *  is on its way to the social service (it answers image_not_found until then). */
const AVATAR_RETRY_DELAYS_MS = [250, 500, 1000, 2000]

export type Location = Omit<LocationView, 'agents'>

/** A user id in a path (the World page links characters by it); usernames never contain '-'. */
const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const useProfilesStore = defineStore('profiles', () => {
  /** Profiles by lower-cased username. */
  const profiles = reactive<Record<string, Profile>>({})
  const posts = reactive<Record<string, PagedList<Post>>>({})
  /** AI characters by user id; null when the simulator does not know the account. */
  const agents = reactive<Record<string, AgentDetail | null>>({})
  const locations = reactive<Record<string, Location>>({})
  let locationsLoaded: Promise<void> | null = null
  const authorsInFlight = new Map<string, Promise<Profile>>()
  /** Follower and following lists by kind and lower-cased username. */
  const connections = reactive<Record<string, PagedList<Profile>>>({})

  async function load(username: string): Promise<Profile> {
    const profile = await api.get<Profile>(`/users/${encodeURIComponent(username)}`)
    profiles[usernameKey(profile.username)] = profile
    return profile
  }

  /** The author behind a username, fetched once (live events name people only by username). */
  function author(username: string): Promise<Author> {
    const key = usernameKey(username)
    const known = profiles[key]
    if (known) return Promise.resolve(known)
    let pending = authorsInFlight.get(key)
    if (!pending) {
      pending = load(username).finally(() => authorsInFlight.delete(key))
      authorsInFlight.set(key, pending)
    }
    return pending
  }

  function listOf(username: string): PagedList<Post> {
    return (posts[usernameKey(username)] ??= emptyPagedList<Post>())
  }

  async function loadPosts(username: string): Promise<void> {
    await loadNextPage(listOf(username), (cursor) =>
      api.get<Page<Post>>(`/users/${encodeURIComponent(username)}/posts`, { cursor, limit: PROFILE_POSTS_PAGE }),
    )
  }

  function connectionsOf(username: string, kind: ConnectionKind): PagedList<Profile> {
    return (connections[`${kind}:${usernameKey(username)}`] ??= emptyPagedList<Profile>())
  }

  function resetConnections(username: string, kind: ConnectionKind): void {
    connections[`${kind}:${usernameKey(username)}`] = emptyPagedList<Profile>()
  }

  async function loadConnections(username: string, kind: ConnectionKind): Promise<void> {
    const page = await loadNextPage(connectionsOf(username, kind), (cursor) =>
      api.get<Page<Profile>>(`/users/${encodeURIComponent(username)}/${kind}`, { cursor, limit: CONNECTIONS_PAGE }),
    )
    // Known by name from now on, so a row's Follow button and the person's page share one state.
    for (const person of page?.items ?? []) profiles[usernameKey(person.username)] ??= person
  }

  function resetPosts(username: string): void {
    posts[usernameKey(username)] = emptyPagedList<Post>()
  }

  function replacePost(post: Post): void {
    for (const list of Object.values(posts)) {
      const index = list.items.findIndex((item) => item.id === post.id)
      if (index >= 0) list.items[index] = post
    }
  }

  function removePost(postId: string): void {
    for (const list of Object.values(posts)) list.items = list.items.filter((item) => item.id !== postId)
  }

  async function setFollowing(username: string, follow: boolean): Promise<void> {
    const profile = profiles[usernameKey(username)]
    const before = profile ? { ...profile } : null
    if (profile) {
      // Optimistic, like the like button; undone if the server refuses.
      if (Boolean(profile.is_following) !== follow) profile.follower_count += follow ? 1 : -1
      profile.is_following = follow
    }
    try {
      const path = `/users/${encodeURIComponent(username)}/follow`
      if (follow) await api.post(path)
      else await api.delete(path)
    } catch (error) {
      if (profile && before) Object.assign(profile, before)
      throw error
    }
  }

  /** The username a profile or chat path names: itself, or the AI character's when it is a user id. */
  async function resolveUsername(usernameOrId: string): Promise<string> {
    if (!USER_ID.test(usernameOrId)) return usernameOrId
    const known = Object.values(profiles).find((profile) => profile.id === usernameOrId)
    if (known) return known.username
    const agent = await loadAgent(usernameOrId)
    if (!agent) throw new ApiError(404, 'not_found', `No one has the id ${usernameOrId}`)
    return agent.username
  }

  async function loadAgent(userId: string): Promise<AgentDetail | null> {
    try {
      agents[userId] = await simApi.agent(userId)
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error
      agents[userId] = null
    }
    void loadLocations().catch(() => undefined)
    return agents[userId] ?? null
  }

  const agentRefreshing = new Set<string>()
  const agentRefreshAgain = new Set<string>()

  /**
   * The character did something (sim.action.*): its place and doing are read again. One request at a
   * time per character; events during it cause one more read after it.
   */
  function refreshAgent(userId: string): void {
    if (!(userId in agents)) return
    if (agentRefreshing.has(userId)) {
      agentRefreshAgain.add(userId)
      return
    }
    agentRefreshing.add(userId)
    void loadAgent(userId)
      .catch(() => undefined)
      .finally(() => {
        agentRefreshing.delete(userId)
        if (agentRefreshAgain.delete(userId)) refreshAgent(userId)
      })
  }

  /** Names of the world's places, for "where is this character now". */
  function loadLocations(): Promise<void> {
    locationsLoaded ??= simApi
      .world()
      .then((world) => {
        for (const { agents: _, ...place } of world.locations) locations[place.id] = place
      })
      .catch((error: unknown) => {
        locationsLoaded = null // try again next time
        throw error
      })
    return locationsLoaded
  }

  async function updateBio(bio: string): Promise<Profile> {
    const profile = await request<Profile>('/users/me', { method: 'PATCH', body: { bio } })
    profiles[usernameKey(profile.username)] = profile
    return profile
  }

  /**
   * Sets (an uploaded image's id) or removes (null) the signed-in person's picture; their posts already
   * on screen show the new one.
   */
  async function setAvatar(fileId: string | null): Promise<Profile> {
    const body = fileId ? { avatar_file_id: fileId } : { remove_avatar: true }
    let profile: Profile | null = null
    for (const delay of [...AVATAR_RETRY_DELAYS_MS, null]) {
      try {
        profile = await request<Profile>('/users/me', { method: 'PATCH', body })
        break
      } catch (error) {
        const notYetKnown = error instanceof ApiError && error.code === 'image_not_found'
        if (!notYetKnown || delay === null) throw error
        await new Promise((resolve) => setTimeout(resolve, delay))
      }
    }
    const saved = profile!
    profiles[usernameKey(saved.username)] = { ...profiles[usernameKey(saved.username)], ...saved }
    const showNewPicture = (post: Post) => {
      if (post.author.id === saved.id) post.author = { ...post.author, avatar_url: saved.avatar_url }
    }
    for (const list of Object.values(posts)) list.items.forEach(showNewPicture)
    for (const feed of Object.values(useFeedStore().feeds)) feed.items.forEach(showNewPicture)
    return saved
  }

  /** The display name lives in the auth service; the profile copy catches up through an event. */
  async function updateDisplayName(displayName: string): Promise<User> {
    const user = await request<User>('/auth/me', { method: 'PATCH', body: { display_name: displayName } })
    const auth = useAuthStore()
    auth.user = user
    const profile = profiles[usernameKey(user.username)]
    if (profile) profile.display_name = user.display_name
    return user
  }

  // Follow flags and the AI details are the viewer's view: another account starts afresh.
  onSignedOut(() => {
    for (const record of [profiles, posts, agents, connections]) {
      for (const key of Object.keys(record)) delete record[key]
    }
  })

  return {
    profiles,
    posts,
    agents,
    locations,
    load,
    author,
    listOf,
    loadPosts,
    resetPosts,
    connections,
    connectionsOf,
    resetConnections,
    loadConnections,
    setAvatar,
    replacePost,
    removePost,
    setFollowing,
    loadAgent,
    refreshAgent,
    loadLocations,
    resolveUsername,
    updateBio,
    updateDisplayName,
  }
})
