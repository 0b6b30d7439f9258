// The parts of Apache ECharts the dashboard uses, and nothing else (echarts/core + these modules):
// line (spread, P50/P90, an industry over time), bar (ranked gains), heatmap (industry x month),
// grid/tooltip/axis pointer (crosshair), dataZoom (zoom and pan),
// visualMap (heatmap colours), markArea (alert episodes and scenario bands), canvas renderer.
import * as echarts from 'echarts/core';
import { LineChart, BarChart, HeatmapChart } from 'echarts/charts';
import {
  GridComponent, TooltipComponent, AxisPointerComponent, DataZoomComponent, VisualMapComponent,
  MarkAreaComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
echarts.use([
  LineChart, BarChart, HeatmapChart, GridComponent, TooltipComponent, AxisPointerComponent,
  DataZoomComponent, VisualMapComponent, MarkAreaComponent, CanvasRenderer,
]);
window.echarts = echarts;
