// Texts of the world pages.
export default {}
