// Texts of the desktop layout: the navigation rail and the right column.
export default {
  layout: {
    navigation: 'Main navigation',
    unread: ', {n} unread',
    switchLanguage: 'Language',
    side: 'Around town',
    nowInTown: 'Now in town',
    openWorld: 'Watch the town',
    whoToFollow: 'Who to follow',
    upcoming: 'Upcoming events',
  },
}
