using System.Globalization;
using System.Text.Json.Nodes;
using Lrml.Training;
using Lrml.Util;
using Plotly.NET;

using Lrml.Experiments;

namespace Lrml.Reproduction.Plots;

/// <summary>
/// The kit's chart builders, shared by the notebooks and the <c>lrml</c> CLI: each returns a Plotly.NET
/// <see cref="GenericChart"/> (display it in a notebook, customise it with Plotly.NET, or write it with
/// <see cref="SaveHtml(GenericChart, string, string?)"/>). Traces are built directly as Plotly objects, so every
/// option plotly.js knows can be added later. Non-finite values are written as gaps (JSON null).
/// </summary>
public static class Charts
{
    /// <summary>Default chart width in pixels.</summary>
    public const int DefaultWidth = 760;

    /// <summary>Default chart height in pixels.</summary>
    public const int DefaultHeight = 440;

    /// <summary>Series colours, in order (plotly's default colour way, so charts look familiar).</summary>
    public static IReadOnlyList<string> Palette { get; } =
        ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880", "#ff97ff", "#fecb52"];

    /// <summary>Colour of the <paramref name="index"/>-th series (the palette repeats).</summary>
    public static string ColorOf(int index) => Palette[((index % Palette.Count) + Palette.Count) % Palette.Count];

    /// <summary>24 distinct colours (plotly's Dark24 without its two greys) for categorical charts with more classes than
    /// <see cref="Palette"/> has colours, so no two classes share one.</summary>
    internal static IReadOnlyList<string> WidePalette { get; } =
        ["#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#B68100", "#750D86", "#EB663B", "#511CFB", "#00A08B",
         "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#862A16", "#A777F1", "#620042", "#1616A7", "#DA60CA", "#6C4516",
         "#0D2A63", "#AF0038", "#17BECF", "#BCBD22"];

    /// <summary>The colour of a background class (e.g. "several genres"): grey, drawn first, under the others.</summary>
    public const string BackgroundColor = "#b0b0b0";

    // ------------------------------------------------------------------ line charts

    /// <summary>
    /// Line chart with error bars: one line per series (e.g. metric against a hyper-parameter, one series per model
    /// or option), markers at the points (unless <paramref name="markers"/> is false), error bars when the series has them.
    /// </summary>
    public static GenericChart Line(IReadOnlyList<Series> series, string xTitle, string yTitle, string? title = null,
        bool logX = false, int width = DefaultWidth, int height = DefaultHeight, bool markers = true)
    {
        ArgumentNullException.ThrowIfNull(series);
        var traces = new List<Trace>(series.Count);
        for (int s = 0; s < series.Count; s++)
        {
            var sr = series[s];
            if (sr.X.Count != sr.Y.Count) throw new ArgumentException($"Series '{sr.Name}': {sr.X.Count} x values but {sr.Y.Count} y values.", nameof(series));
            if (sr.Error is not null && sr.Error.Count != sr.Y.Count)
                throw new ArgumentException($"Series '{sr.Name}': {sr.Error.Count} error values but {sr.Y.Count} y values.", nameof(series));
            var t = new Trace2D("scatter");
            t.SetProperty("name", sr.Name);
            t.SetProperty("mode", markers ? "lines+markers" : "lines");
            t.SetProperty("x", Values(sr.X));
            t.SetProperty("y", Values(sr.Y));
            t.SetProperty("line", Obj(("color", ColorOf(s)), ("width", 2)));
            t.SetProperty("marker", Obj(("color", ColorOf(s)), ("size", 7)));
            if (sr.Error is not null)
                t.SetProperty("error_y", Obj(("type", "data"), ("array", Values(sr.Error)), ("visible", true), ("thickness", 1.5), ("width", 4)));
            traces.Add(t);
        }
        var layout = BaseLayout(title, width, height);
        layout.SetProperty("xaxis", Axis(xTitle, logX ? "log" : null));
        layout.SetProperty("yaxis", Axis(yTitle));
        return Build(traces, layout);
    }

    /// <summary>
    /// Lines on vertically stacked panels that share the x axis (e.g. seconds on top, megabytes below), one panel per
    /// entry of <paramref name="panels"/>, each with its own y title. A series name that appears in several panels keeps
    /// one colour and one legend entry. Error bars as in <see cref="Line"/>. With <paramref name="yFromZero"/> every y axis
    /// starts at zero (for sizes and times, so that a small change does not look large).
    /// </summary>
    public static GenericChart LinePanels(IReadOnlyList<(string YTitle, IReadOnlyList<Series> Series)> panels, string xTitle,
        string? title = null, bool logX = false, bool yFromZero = false, int width = DefaultWidth, int? height = null)
    {
        ArgumentNullException.ThrowIfNull(panels);
        if (panels.Count == 0) throw new ArgumentException("At least one panel.", nameof(panels));
        int n = panels.Count;
        const double gap = 0.08;
        double h = (1 - gap * (n - 1)) / n;
        var colours = new Dictionary<string, int>(StringComparer.Ordinal);
        var traces = new List<Trace>();
        var layout = BaseLayout(title, width, height ?? Math.Max(DefaultHeight, 60 + 230 * n));
        for (int p = 0; p < n; p++)
        {
            string suffix = p == 0 ? "" : (p + 1).ToString(CultureInfo.InvariantCulture);
            foreach (var sr in panels[p].Series)
            {
                if (sr.X.Count != sr.Y.Count) throw new ArgumentException($"Series '{sr.Name}': {sr.X.Count} x values but {sr.Y.Count} y values.", nameof(panels));
                if (sr.Error is not null && sr.Error.Count != sr.Y.Count)
                    throw new ArgumentException($"Series '{sr.Name}': {sr.Error.Count} error values but {sr.Y.Count} y values.", nameof(panels));
                bool first = !colours.ContainsKey(sr.Name);
                if (first) colours[sr.Name] = colours.Count;
                string colour = ColorOf(colours[sr.Name]);
                var t = new Trace2D("scatter");
                t.SetProperty("name", sr.Name);
                t.SetProperty("legendgroup", sr.Name);
                t.SetProperty("showlegend", first);
                t.SetProperty("mode", "lines+markers");
                t.SetProperty("x", Values(sr.X));
                t.SetProperty("y", Values(sr.Y));
                t.SetProperty("line", Obj(("color", colour), ("width", 2)));
                t.SetProperty("marker", Obj(("color", colour), ("size", 7)));
                if (sr.Error is not null)
                    t.SetProperty("error_y", Obj(("type", "data"), ("array", Values(sr.Error)), ("visible", true), ("thickness", 1.5), ("width", 4)));
                t.SetProperty("xaxis", "x" + suffix);
                t.SetProperty("yaxis", "y" + suffix);
                traces.Add(t);
            }
            bool bottom = p == n - 1;
            var x = Axis(bottom ? xTitle : null, logX ? "log" : null);
            x["anchor"] = "y" + suffix;
            if (!bottom) { x["matches"] = "x" + n.ToString(CultureInfo.InvariantCulture); x["showticklabels"] = false; }
            var y = Axis(panels[p].YTitle);
            if (yFromZero) y["rangemode"] = "tozero";
            double top = 1 - p * (h + gap);
            y["domain"] = new[] { Math.Max(0, top - h), top };
            y["anchor"] = "x" + suffix;
            layout.SetProperty("xaxis" + suffix, x);
            layout.SetProperty("yaxis" + suffix, y);
        }
        return Build(traces, layout);
    }

    /// <summary>
    /// A metric against a hyper-parameter over runs: x is <paramref name="parameter"/> read from each run's effective
    /// config (a dotted path such as <c>"lrml.memories"</c> is followed into nested objects), y is
    /// <paramref name="metric"/> from <see cref="RunResult.Metrics"/>; runs are grouped into one line per
    /// <paramref name="seriesBy"/> (default: the model) and repeated runs (seeds) are averaged with error bars.
    /// </summary>
    public static GenericChart MetricVsParameter(IEnumerable<RunResult> runs, string parameter, string metric,
        Func<RunResult, string>? seriesBy = null, ErrorBar error = ErrorBar.StandardDeviation, bool logX = false, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        seriesBy ??= r => r.Model;
        var samples = new List<(string, double, double)>();
        foreach (var r in runs)
        {
            double x = ConfigNumber(r, parameter);
            if (!r.Metrics.TryGetValue(metric, out double y))
                throw new ArgumentException($"Run {r.Model}/{r.Dataset} seed {r.Seed} has no metric '{metric}' (it has: {string.Join(", ", r.Metrics.Keys)}).", nameof(metric));
            samples.Add((seriesBy(r), x, y));
        }
        if (samples.Count == 0) throw new ArgumentException("No runs to plot.", nameof(runs));
        return Line(Series.Aggregate(samples, error), parameter, metric, title ?? $"{metric} vs {parameter}", logX);
    }

    /// <summary>A number from a run's effective config, following a dotted path; a clear error when absent.</summary>
    public static double ConfigNumber(RunResult run, string path)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentException.ThrowIfNullOrEmpty(path);
        JsonNode? node = run.Config;
        foreach (var part in path.Split('.'))
        {
            node = node is JsonObject o && o.TryGetPropertyValue(part, out var next) ? next : null;
            if (node is null)
                throw new ArgumentException($"Run {run.Model}/{run.Dataset} seed {run.Seed}: config has no '{path}'.", nameof(path));
        }
        switch (node.GetValueKind())
        {
            case System.Text.Json.JsonValueKind.Number:
                return double.Parse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
            case System.Text.Json.JsonValueKind.True: return 1;
            case System.Text.Json.JsonValueKind.False: return 0;
            case System.Text.Json.JsonValueKind.String when double.TryParse(node.GetValue<string>(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d):
                return d;
        }
        throw new ArgumentException($"Run {run.Model}/{run.Dataset} seed {run.Seed}: config '{path}' = {node.ToJsonString()} is not a number.", nameof(path));
    }

    // ------------------------------------------------------------------ bar charts

    /// <summary>Grouped bar chart with error bars: categories along x, one bar per series in each category.</summary>
    public static GenericChart Bars(IReadOnlyList<string> categories, IReadOnlyList<BarSeries> series, string yTitle,
        string? xTitle = null, string? title = null, int width = DefaultWidth, int height = DefaultHeight)
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(series);
        var traces = new List<Trace>(series.Count);
        for (int s = 0; s < series.Count; s++)
        {
            var sr = series[s];
            if (sr.Values.Count != categories.Count)
                throw new ArgumentException($"Bar series '{sr.Name}' has {sr.Values.Count} values for {categories.Count} categories.", nameof(series));
            if (sr.Error is not null && sr.Error.Count != categories.Count)
                throw new ArgumentException($"Bar series '{sr.Name}' has {sr.Error.Count} error values for {categories.Count} categories.", nameof(series));
            var t = new Trace2D("bar");
            t.SetProperty("name", sr.Name);
            t.SetProperty("x", categories.ToArray());
            t.SetProperty("y", Values(sr.Values));
            t.SetProperty("marker", Obj(("color", ColorOf(s))));
            if (sr.Error is not null)
                t.SetProperty("error_y", Obj(("type", "data"), ("array", Values(sr.Error)), ("visible", true), ("thickness", 1.5), ("width", 4)));
            traces.Add(t);
        }
        var layout = BaseLayout(title, width, height);
        layout.SetProperty("barmode", "group");
        layout.SetProperty("xaxis", Axis(xTitle, "category"));
        layout.SetProperty("yaxis", Axis(yTitle));
        return Build(traces, layout);
    }

    /// <summary>
    /// Metrics of several models side by side: one category per metric, one bar per <paramref name="seriesBy"/>
    /// (default: the model), the mean over repeated runs (seeds) with error bars.
    /// </summary>
    public static GenericChart MetricBars(IEnumerable<RunResult> runs, IReadOnlyList<string> metrics,
        Func<RunResult, string>? seriesBy = null, ErrorBar error = ErrorBar.StandardDeviation, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(metrics);
        seriesBy ??= r => r.Model;
        var order = new List<string>();
        var values = new Dictionary<string, List<double>[]>(StringComparer.Ordinal);
        foreach (var r in runs)
        {
            string key = seriesBy(r);
            if (!values.TryGetValue(key, out var perMetric))
            {
                perMetric = new List<double>[metrics.Count];
                for (int m = 0; m < metrics.Count; m++) perMetric[m] = new List<double>();
                values[key] = perMetric; order.Add(key);
            }
            for (int m = 0; m < metrics.Count; m++)
            {
                if (!r.Metrics.TryGetValue(metrics[m], out double v))
                    throw new ArgumentException($"Run {r.Model}/{r.Dataset} seed {r.Seed} has no metric '{metrics[m]}'.", nameof(metrics));
                perMetric[m].Add(v);
            }
        }
        if (order.Count == 0) throw new ArgumentException("No runs to plot.", nameof(runs));
        var series = order.Select(key =>
        {
            var pm = values[key];
            var mean = pm.Select(l => l.Average()).ToArray();
            var err = pm.Select(l => Series.ErrorOf(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(l), error)).ToArray();
            return new BarSeries(key, mean, error == ErrorBar.None ? null : err);
        }).ToArray();
        return Bars(metrics, series, "value", "metric", title);
    }

    // ------------------------------------------------------------------ histograms

    /// <summary>
    /// Histogram of values computed here (only the bin counts go into the chart, so a million values stay small):
    /// <paramref name="bins"/> equal-width bins, or with <paramref name="logBins"/> equal-width bins of log10(value)
    /// (for heavy-tailed counts such as interactions per user; values must then be positive) drawn on a log x axis.
    /// </summary>
    public static GenericChart Histogram(IReadOnlyList<double> values, string xTitle, string? title = null, int bins = 40,
        bool logBins = false, bool logY = false, string yTitle = "count", int width = DefaultWidth, int height = DefaultHeight)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), bins, "At least one bin.");
        var edges = HistogramEdges(values, bins, logBins);
        var counts = HistogramCounts(values, edges);
        var t = new Trace2D("bar");
        t.SetProperty("name", xTitle);
        var lo = new double[counts.Length]; var w = new double[counts.Length];
        for (int b = 0; b < counts.Length; b++) { lo[b] = edges[b]; w[b] = edges[b + 1] - edges[b]; }
        t.SetProperty("x", Values(lo));
        t.SetProperty("width", Values(w));
        t.SetProperty("offset", 0);
        t.SetProperty("y", counts);
        t.SetProperty("marker", Obj(("color", ColorOf(0)), ("line", Obj(("color", "#ffffff"), ("width", 0.5)))));
        t.SetProperty("hovertemplate", "[%{x}, %{x}+%{width}): %{y}<extra></extra>");
        var layout = BaseLayout(title, width, height);
        layout.SetProperty("showlegend", false);
        layout.SetProperty("bargap", 0);
        layout.SetProperty("xaxis", Axis(xTitle, logBins ? "log" : null));
        layout.SetProperty("yaxis", Axis(yTitle, logY ? "log" : null));
        return Build([t], layout);
    }

    /// <summary>Bin edges (bins + 1 values, ascending) covering all finite values.</summary>
    public static double[] HistogramEdges(IReadOnlyList<double> values, int bins, bool logBins)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (double v in values)
        {
            if (!double.IsFinite(v)) continue;
            if (logBins && v <= 0) throw new ArgumentException($"Log-spaced bins need positive values; found {v.ToString(CultureInfo.InvariantCulture)}.", nameof(values));
            if (v < min) min = v;
            if (v > max) max = v;
        }
        if (double.IsInfinity(min)) throw new ArgumentException("No finite values to bin.", nameof(values));
        var edges = new double[bins + 1];
        if (logBins)
        {
            double a = Math.Log10(min), b = Math.Log10(max);
            if (b - a < 1e-12) { a -= 0.5; b += 0.5; }
            for (int k = 0; k <= bins; k++) edges[k] = Math.Pow(10, a + (b - a) * k / bins);
        }
        else
        {
            if (max - min < 1e-12) { min -= 0.5; max += 0.5; }
            for (int k = 0; k <= bins; k++) edges[k] = min + (max - min) * k / bins;
        }
        edges[0] = Math.Min(edges[0], min); edges[bins] = Math.Max(edges[bins], max);
        return edges;
    }

    /// <summary>Counts of finite values per bin [edge_k, edge_{k+1}); the last bin includes its upper edge.</summary>
    public static long[] HistogramCounts(IReadOnlyList<double> values, double[] edges)
    {
        int bins = edges.Length - 1;
        var counts = new long[bins];
        foreach (double v in values)
        {
            if (!double.IsFinite(v) || v < edges[0] || v > edges[bins]) continue;
            int k = Array.BinarySearch(edges, v);
            if (k < 0) k = ~k - 1;
            if (k >= bins) k = bins - 1;
            counts[k]++;
        }
        return counts;
    }

    // ------------------------------------------------------------------ 2-D projections

    /// <summary>
    /// Scatter plot of a 2-D projection (e.g. PCA or t-SNE of item embeddings) coloured by a categorical label: one
    /// trace per label (legend entries in order of first appearance), optional hover text per point. Every class gets
    /// its own colour (up to 24); <paramref name="backgroundLabel"/>, when given, is drawn first in grey
    /// (<see cref="BackgroundColor"/>), smaller, under the others.
    /// </summary>
    public static GenericChart Scatter2D(IReadOnlyList<double> x, IReadOnlyList<double> y, IReadOnlyList<string> labels,
        string? title = null, string xTitle = "component 1", string yTitle = "component 2", IReadOnlyList<string>? hoverText = null,
        int width = DefaultWidth, int height = 560, string? backgroundLabel = null)
    {
        CheckPoints(x, y, labels.Count, hoverText);
        var order = new List<string>();
        var members = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int i = 0; i < labels.Count; i++)
        {
            if (!members.TryGetValue(labels[i], out var list)) { list = new List<int>(); members[labels[i]] = list; order.Add(labels[i]); }
            list.Add(i);
        }
        bool hasBackground = backgroundLabel is not null && order.Remove(backgroundLabel);
        if (order.Count > WidePalette.Count)
            throw new ArgumentException($"{order.Count} classes are more than the {WidePalette.Count} distinguishable colours: group the rare ones.");
        var colours = order.Count <= Palette.Count ? Palette : WidePalette;
        var traces = new List<Trace>(order.Count + 1);
        if (hasBackground)
        {
            var idx = members[backgroundLabel!];
            var t = new Trace2D("scattergl");
            t.SetProperty("name", backgroundLabel!);
            t.SetProperty("mode", "markers");
            t.SetProperty("x", Values(idx.Select(i => x[i]).ToArray()));
            t.SetProperty("y", Values(idx.Select(i => y[i]).ToArray()));
            t.SetProperty("marker", Obj(("color", BackgroundColor), ("size", 4), ("opacity", 0.5)));
            if (hoverText is not null) { t.SetProperty("text", idx.Select(i => hoverText[i]).ToArray()); t.SetProperty("hoverinfo", "text+name"); }
            traces.Add(t);
        }
        for (int s = 0; s < order.Count; s++)
        {
            var idx = members[order[s]];
            var t = new Trace2D("scattergl");
            t.SetProperty("name", order[s]);
            t.SetProperty("mode", "markers");
            t.SetProperty("x", Values(idx.Select(i => x[i]).ToArray()));
            t.SetProperty("y", Values(idx.Select(i => y[i]).ToArray()));
            t.SetProperty("marker", Obj(("color", colours[s]), ("size", 6), ("opacity", 0.8)));
            if (hoverText is not null) { t.SetProperty("text", idx.Select(i => hoverText[i]).ToArray()); t.SetProperty("hoverinfo", "text+name"); }
            traces.Add(t);
        }
        var layout = BaseLayout(title, width, height);
        layout.SetProperty("xaxis", Axis(xTitle));
        layout.SetProperty("yaxis", Axis(yTitle));
        return Build(traces, layout);
    }

    /// <summary>
    /// Scatter plot of a 2-D projection coloured by a continuous value (e.g. item popularity) on a continuous colour
    /// scale (plotly's named scales: "Viridis", "Cividis", "RdBu", …) with a colour bar.
    /// </summary>
    public static GenericChart Scatter2D(IReadOnlyList<double> x, IReadOnlyList<double> y, IReadOnlyList<double> colorValues,
        string colorTitle, string? title = null, string xTitle = "component 1", string yTitle = "component 2",
        IReadOnlyList<string>? hoverText = null, string colorScale = "Viridis", int width = DefaultWidth, int height = 560)
    {
        CheckPoints(x, y, colorValues.Count, hoverText);
        var t = new Trace2D("scattergl");
        t.SetProperty("name", colorTitle);
        t.SetProperty("mode", "markers");
        t.SetProperty("x", Values(x));
        t.SetProperty("y", Values(y));
        t.SetProperty("marker", Obj(("color", Values(colorValues)), ("colorscale", colorScale), ("showscale", true), ("size", 6), ("opacity", 0.85),
            ("colorbar", Obj(("title", Obj(("text", colorTitle)))))));
        if (hoverText is not null) { t.SetProperty("text", hoverText.ToArray()); t.SetProperty("hoverinfo", "text"); }
        var layout = BaseLayout(title, width, height);
        layout.SetProperty("showlegend", false);
        layout.SetProperty("xaxis", Axis(xTitle));
        layout.SetProperty("yaxis", Axis(yTitle));
        return Build([t], layout);
    }

    private static void CheckPoints(IReadOnlyList<double> x, IReadOnlyList<double> y, int colorCount, IReadOnlyList<string>? hover)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count) throw new ArgumentException($"{x.Count} x values but {y.Count} y values.", nameof(y));
        if (colorCount != x.Count) throw new ArgumentException($"{x.Count} points but {colorCount} colour values or labels.");
        if (hover is not null && hover.Count != x.Count) throw new ArgumentException($"{x.Count} points but {hover.Count} hover texts.", nameof(hover));
    }

    // ------------------------------------------------------------------ heat maps

    /// <summary>
    /// Heat map of a matrix (e.g. memory slots × labels: rows are <paramref name="rowLabels"/>, columns
    /// <paramref name="columnLabels"/>, <c>z[row][column]</c>), first row at the top, with a colour bar.
    /// </summary>
    public static GenericChart Heatmap(IReadOnlyList<IReadOnlyList<double>> z, IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels,
        string? title = null, string colorTitle = "value", string? xTitle = null, string? yTitle = null, string colorScale = "Viridis",
        int width = DefaultWidth, int? height = null)
    {
        ArgumentNullException.ThrowIfNull(z);
        if (z.Count != rowLabels.Count) throw new ArgumentException($"{z.Count} rows but {rowLabels.Count} row labels.", nameof(rowLabels));
        for (int r = 0; r < z.Count; r++)
            if (z[r].Count != columnLabels.Count)
                throw new ArgumentException($"Row {r} has {z[r].Count} values but there are {columnLabels.Count} column labels.", nameof(z));
        var t = new Trace2D("heatmap");
        t.SetProperty("z", z.Select(row => Values(row)).ToArray());
        t.SetProperty("x", columnLabels.ToArray());
        t.SetProperty("y", rowLabels.ToArray());
        t.SetProperty("colorscale", colorScale);
        t.SetProperty("colorbar", Obj(("title", Obj(("text", colorTitle)))));
        t.SetProperty("hovertemplate", "%{y} × %{x}: %{z}<extra></extra>");
        var layout = BaseLayout(title, width, height ?? Math.Clamp(120 + 22 * rowLabels.Count, 260, 900));
        layout.SetProperty("xaxis", Axis(xTitle, "category"));
        var yaxis = Axis(yTitle, "category");
        yaxis["autorange"] = "reversed";
        layout.SetProperty("yaxis", yaxis);
        return Build([t], layout);
    }

    // ------------------------------------------------------------------ training curves

    /// <summary>
    /// Whether LRML's memory is used, per epoch, for one or more runs (their <see cref="EpochRecord.Diagnostics"/>): the
    /// attention entropy over ln N (top; 1 = uniform attention), the mean max attention (middle; uniform = 1/N) and the
    /// spread of r across pairs next to ‖r‖ / ‖p − q‖ (bottom). Epochs without diagnostics leave gaps.
    /// </summary>
    public static GenericChart MemoryUsageCurves(IReadOnlyList<(string Name, IReadOnlyList<EpochRecord> Epochs)> runs, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        double D(EpochRecord e, string key) => e.Diagnostics is not null && e.Diagnostics.TryGetValue(key, out double v) ? v : double.NaN;
        Series S(string name, IReadOnlyList<EpochRecord> epochs, Func<EpochRecord, double> y) =>
            new(name, epochs.Select(e => (double)e.Epoch).ToArray(), epochs.Select(y).ToArray());
        var entropy = runs.Select(r => S(r.Name, r.Epochs, e => D(e, "attention_entropy_ratio"))).ToList();
        var max = runs.Select(r => S(r.Name, r.Epochs, e => D(e, "attention_max"))).ToList();
        var spread = runs.Select(r => S(r.Name, r.Epochs, e => D(e, "relation_spread"))).ToList();
        var ratio = runs.Select(r => S(r.Name, r.Epochs, e => D(e, "relation_norm") / D(e, "user_item_distance"))).ToList();
        return LinePanels(
            [("attention entropy / ln N", entropy), ("mean max attention", max), ("spread of r across pairs", spread), ("‖r‖ / ‖p − q‖", ratio)],
            "epoch", title ?? "Is the memory used? Attention and relation per epoch");
    }

    /// <summary>
    /// Training curves of one run: mean training loss per epoch (top panel) and the validation metric at the epochs
    /// where it was evaluated (bottom panel, best epoch marked with a star). <paramref name="validationMetric"/>
    /// defaults to the first metric found in the records.
    /// </summary>
    public static GenericChart TrainingCurves(IReadOnlyList<EpochRecord> epochs, string? validationMetric = null, string? title = null) =>
        TrainingCurves([("run", epochs)], validationMetric, title);

    /// <summary>Training curves of several runs on shared panels (one colour per run): loss on top, validation metric below.</summary>
    public static GenericChart TrainingCurves(IReadOnlyList<(string Name, IReadOnlyList<EpochRecord> Epochs)> runs,
        string? validationMetric = null, string? title = null, int width = DefaultWidth, int height = 560)
    {
        ArgumentNullException.ThrowIfNull(runs);
        validationMetric ??= runs.SelectMany(r => r.Epochs).Select(e => e.Validation).FirstOrDefault(v => v is { Count: > 0 })?.Keys.First();
        var traces = new List<Trace>();
        for (int s = 0; s < runs.Count; s++)
        {
            var (name, epochs) = runs[s];
            string color = ColorOf(s);
            var loss = new Trace2D("scatter");
            loss.SetProperty("name", name);
            loss.SetProperty("legendgroup", name);
            loss.SetProperty("mode", "lines+markers");
            loss.SetProperty("x", epochs.Select(e => (double)e.Epoch).ToArray());
            loss.SetProperty("y", Values(epochs.Select(e => e.MeanLoss).ToArray()));
            loss.SetProperty("line", Obj(("color", color)));
            loss.SetProperty("marker", Obj(("color", color), ("size", 5)));
            loss.SetProperty("xaxis", "x"); loss.SetProperty("yaxis", "y");
            traces.Add(loss);
            if (validationMetric is null) continue;
            var evaluated = epochs.Where(e => e.Validation is not null && e.Validation.ContainsKey(validationMetric)).ToArray();
            if (evaluated.Length == 0) continue;
            var val = new Trace2D("scatter");
            val.SetProperty("name", name + " · " + validationMetric);
            val.SetProperty("legendgroup", name);
            val.SetProperty("showlegend", false);
            val.SetProperty("mode", "lines+markers");
            val.SetProperty("x", evaluated.Select(e => (double)e.Epoch).ToArray());
            val.SetProperty("y", Values(evaluated.Select(e => e.Validation![validationMetric]).ToArray()));
            val.SetProperty("line", Obj(("color", color), ("dash", "dot")));
            val.SetProperty("marker", Obj(("color", color), ("size", 5)));
            val.SetProperty("xaxis", "x2"); val.SetProperty("yaxis", "y2");
            traces.Add(val);
            var best = evaluated.Where(e => e.IsBest).LastOrDefault();
            if (best is not null)
            {
                var star = new Trace2D("scatter");
                star.SetProperty("name", name + " best");
                star.SetProperty("legendgroup", name);
                star.SetProperty("showlegend", false);
                star.SetProperty("mode", "markers");
                star.SetProperty("x", new[] { (double)best.Epoch });
                star.SetProperty("y", Values(new[] { best.Validation![validationMetric] }));
                star.SetProperty("marker", Obj(("color", color), ("size", 14), ("symbol", "star"), ("line", Obj(("color", "#333"), ("width", 1)))));
                star.SetProperty("xaxis", "x2"); star.SetProperty("yaxis", "y2");
                traces.Add(star);
            }
        }
        var layout = BaseLayout(title ?? "Training curves", width, height);
        var x1 = Axis(null); x1["anchor"] = "y"; x1["matches"] = "x2"; x1["showticklabels"] = false;
        var x2 = Axis("epoch"); x2["anchor"] = "y2";
        var y1 = Axis("mean training loss"); y1["domain"] = new[] { 0.55, 1.0 }; y1["anchor"] = "x";
        var y2 = Axis(validationMetric is null ? "validation" : "validation " + validationMetric); y2["domain"] = new[] { 0.0, 0.45 }; y2["anchor"] = "x2";
        layout.SetProperty("xaxis", x1); layout.SetProperty("xaxis2", x2);
        layout.SetProperty("yaxis", y1); layout.SetProperty("yaxis2", y2);
        return Build(traces, layout);
    }

    // ------------------------------------------------------------------ files

    /// <summary>
    /// Writes a chart as a self-contained HTML page (plotly.js inlined, no CDN, opens offline), atomically:
    /// a crash never leaves a half-written file.
    /// </summary>
    public static void SaveHtml(GenericChart chart, string path, string? title = null) => SaveHtml([chart], path, title);

    /// <summary>Writes several charts, one below the other, as one self-contained HTML page (atomically).</summary>
    public static void SaveHtml(IEnumerable<GenericChart> charts, string path, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(charts);
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.WriteAllText(path, PlotlyHtml.Document(charts, title));
    }

    /// <summary>
    /// Writes a chart as a PNG image through headless Chromium (see <see cref="Chromium"/>): the chart's self-contained
    /// HTML is rendered and screenshotted at the chart's size. Returns false with the reason when no Chromium is
    /// installed; throws when Chromium fails. The PNG is written atomically.
    /// </summary>
    public static bool TrySavePng(GenericChart chart, string path, out string? reason, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(chart);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string? browser = Chromium.Find();
        if (browser is null) { reason = Chromium.NotFoundMessage; return false; }
        var (w, h) = PlotlyHtml.Size(chart);
        string dir = Directory.CreateTempSubdirectory("lrml-png").FullName;
        try
        {
            string html = Path.Combine(dir, "chart.html");
            File.WriteAllText(html, PlotlyHtml.Document([chart]));
            string png = Path.Combine(dir, "chart.png");
            Chromium.Screenshot(browser, html, png, (w ?? DefaultWidth) + 16, (h ?? DefaultHeight) + 16, timeout ?? TimeSpan.FromSeconds(60));
            AtomicFile.WriteAllBytes(path, File.ReadAllBytes(png));
            reason = null;
            return true;
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    // ------------------------------------------------------------------ helpers

    private static GenericChart Build(IEnumerable<Trace> traces, Layout layout) =>
        GenericChart.addLayout(layout, GenericChart.ofTraceObjects(true, traces.ToList()));

    private static Layout BaseLayout(string? title, int width, int height)
    {
        var layout = new Layout();
        if (!string.IsNullOrWhiteSpace(title)) layout.SetProperty("title", Obj(("text", title)));
        layout.SetProperty("width", width);
        layout.SetProperty("height", height);
        layout.SetProperty("margin", Obj(("l", 70), ("r", 30), ("t", string.IsNullOrWhiteSpace(title) ? 30 : 60), ("b", 60)));
        return layout;
    }

    private static Dictionary<string, object> Axis(string? title, string? type = null)
    {
        var axis = new Dictionary<string, object> { ["automargin"] = true };
        if (!string.IsNullOrEmpty(title)) axis["title"] = Obj(("text", title));
        if (type is not null) axis["type"] = type;
        return axis;
    }

    private static Dictionary<string, object> Obj(params (string Key, object Value)[] entries)
    {
        var d = new Dictionary<string, object>(entries.Length);
        foreach (var (k, v) in entries) d[k] = v;
        return d;
    }

    /// <summary>Values for plotly: finite doubles as numbers, NaN and infinities as null (a gap).</summary>
    private static object?[] Values(IReadOnlyList<double> values)
    {
        var a = new object?[values.Count];
        for (int i = 0; i < a.Length; i++) a[i] = double.IsFinite(values[i]) ? values[i] : null;
        return a;
    }
}
