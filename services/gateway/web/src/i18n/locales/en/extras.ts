// Texts for the emoji picker, @mention suggestions and images in direct messages.
export default {
  extras: {
    emoji: {
      button: 'Insert an emoji',
      panel: 'Emoji',
      smileys: 'Smileys',
      gestures: 'Gestures',
      hearts: 'Hearts',
      nature: 'Nature',
      food: 'Food & drink',
      activities: 'Activities',
      objects: 'Objects',
    },
    mention: {
      list: 'People to mention',
    },
    chat: {
      addImage: 'Add images',
      imagesLeft: 'Images: {count} of {max}',
      removeImage: 'Remove image {n}',
      retryImage: 'Retry image {n}',
      previewAlt: 'Image {n} to send',
      progress: 'Uploading image {n}',
      failed: 'Image {n} could not be uploaded',
      tooMany: 'A message can have at most {max} images.',
      imageAlt: 'Image {n} in the message',
      viewImage: 'View image {n} of {total}',
      imageOnly: '[Image]',
      waiting: 'Wait until the images are uploaded.',
    },
  },
}
