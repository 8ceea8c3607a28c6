// Texts of the social pages.
export default {}
