// 插画世界地图的文字：缩放按钮、角色标记和对话气泡。
export default {
  worldMap: {
    hint: '双指捏合、双击或按住 Ctrl 滚动即可缩放。点一下角色即可关注其动向。',
    zoomIn: '放大',
    zoomOut: '缩小',
    reset: '查看整个小镇',
    marker: '{name}，在{place}',
    markerSaid: '{name}，在{place}，说：“{line}”',
    followed: '正在关注',
    phase: {
      dawn: '清晨',
      day: '白天',
      dusk: '傍晚',
      night: '夜晚',
    },
  },
}
