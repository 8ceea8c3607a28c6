// 表情选择、@提及建议和私信图片的文案。
export default {
  extras: {
    emoji: {
      button: '插入表情',
      panel: '表情',
      smileys: '笑脸',
      gestures: '手势',
      hearts: '爱心',
      nature: '自然',
      food: '美食饮品',
      activities: '活动',
      objects: '物品',
    },
    mention: {
      list: '可以提到的人',
    },
    chat: {
      addImage: '添加图片',
      imagesLeft: '图片：{count}/{max}',
      removeImage: '移除第 {n} 张图片',
      retryImage: '重试第 {n} 张图片',
      previewAlt: '待发送的第 {n} 张图片',
      progress: '正在上传第 {n} 张图片',
      failed: '第 {n} 张图片上传失败',
      tooMany: '一条私信最多 {max} 张图片。',
      imageAlt: '私信中的第 {n} 张图片',
      viewImage: '查看第 {n} 张图片，共 {total} 张',
      imageOnly: '[图片]',
      waiting: '请等图片上传完成。',
    },
  },
}
