using System.Text.Json.Nodes;
using Lrml.Reproduction.Plots;
using Lrml.Tests.Notebooks;
using Lrml.Training;
using Plotly.NET;

namespace Lrml.Tests.Reproduction.Plots;

public class ChartsTests
{
    private static JsonObject Figure(GenericChart chart) => JsonNode.Parse(PlotlyHtml.FigureJson(chart))!.AsObject();

    [Fact]
    public void SaveHtml_IsSelfContained_PlotlyJsInlinedOnce_TraceDataPresent_NoCdn()
    {
        var chart = Charts.Line([new Series("LRML", [1, 5, 10], [0.61, 0.70, 0.68], [0.01, 0.02, 0.015])], "memories", "HR@10", "HR@10 vs memories");
        string dir = Directory.CreateTempSubdirectory("lrml-chart").FullName;
        try
        {
            string path = Path.Combine(dir, "chart.html");
            Charts.SaveHtml(chart, path, "a <chart>");
            string html = File.ReadAllText(path);
            Assert.Single(Directory.GetFiles(dir));                               // atomic: no temporary left
            Assert.Contains("plotly.js v" + PlotlyHtml.PlotlyJsVersion, html);    // the bundle's banner
            Assert.True(html.Length > 3_000_000, $"HTML is {html.Length} chars; the plotly.js bundle alone is ~3.6 MB");
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(html, PlotlyHtml.BundleMarker + "="));
            Assert.Contains("(function (define, exports, module) {", html);        // require.js cannot capture it
            Assert.Contains("\"name\":\"LRML\"", html);
            Assert.Contains("\"x\":[1.0,5.0,10.0]", html);
            Assert.Contains("\"y\":[0.61,0.7,0.68]", html);
            Assert.Contains("\"array\":[0.01,0.02,0.015]", html);
            Assert.Contains("<title>a &lt;chart&gt;</title>", html);
            Assert.DoesNotContain("<script src=", html);                          // nothing is loaded from a URL (the bundle
            Assert.DoesNotContain("src=\"https://cdn.plot.ly", html);            // itself mentions cdn.plot.ly for geo maps)
            Assert.DoesNotContain("</script", PlotlyHtml.PlotlyJs, StringComparison.OrdinalIgnoreCase);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void NonFiniteValues_BecomeGaps()
    {
        var fig = Figure(Charts.Line([new Series("s", [1, 2, 3], [0.5, double.NaN, double.PositiveInfinity])], "x", "y"));
        var y = fig["data"]![0]!["y"]!.AsArray();
        Assert.Equal(0.5, y[0]!.GetValue<double>());
        Assert.Null(y[1]);
        Assert.Null(y[2]);
    }

    [Fact]
    public void Line_OneTracePerSeries_ErrorBarsOnlyWhenGiven_LogAxis()
    {
        var fig = Figure(Charts.Line([new Series("a", [1, 2], [1, 2], [0.1, 0.2]), new Series("b", [1, 2], [2, 1])], "x", "y", logX: true));
        var data = fig["data"]!.AsArray();
        Assert.Equal(2, data.Count);
        Assert.NotNull(data[0]!["error_y"]);
        Assert.Null(data[1]!["error_y"]);
        Assert.NotEqual(data[0]!["line"]!["color"]!.GetValue<string>(), data[1]!["line"]!["color"]!.GetValue<string>());
        Assert.Equal("log", fig["layout"]!["xaxis"]!["type"]!.GetValue<string>());
        Assert.Throws<ArgumentException>(() => Charts.Line([new Series("bad", [1, 2], [1])], "x", "y"));
    }

    [Fact]
    public void Aggregate_MeanAndErrorBarsByHand()
    {
        // x = 1: values 0.5, 0.7 → mean 0.6, sample std √0.02 ≈ 0.141421, standard error 0.1
        var samples = new (string, double, double)[] { ("m", 1, 0.5), ("m", 1, 0.7), ("m", 2, 0.9), ("n", 1, 0.1) };
        var sd = Series.Aggregate(samples, ErrorBar.StandardDeviation);
        Assert.Equal(["m", "n"], sd.Select(s => s.Name));
        Assert.Equal([1.0, 2.0], sd[0].X);
        Assert.Equal(0.6, sd[0].Y[0], 12);
        Assert.Equal(Math.Sqrt(0.02), sd[0].Error![0], 12);
        Assert.Equal(0, sd[0].Error![1]);                       // single value at x = 2
        var se = Series.Aggregate(samples, ErrorBar.StandardError);
        Assert.Equal(0.1, se[0].Error![0], 12);
        var ci = Series.Aggregate(samples, ErrorBar.ConfidenceInterval95);
        Assert.Equal(12.706204736 * 0.1, ci[0].Error![0], 6);   // t(0.975, 1) · std / √2
        Assert.Null(Series.Aggregate(samples, ErrorBar.None)[0].Error);
    }

    [Fact]
    public void MetricVsParameter_ReadsNestedConfigAndAveragesSeeds()
    {
        var runs = new[]
        {
            InteractiveTestData.Run("LRML", 1, 0.60, 0.4, memories: 5), InteractiveTestData.Run("LRML", 2, 0.64, 0.4, memories: 5),
            InteractiveTestData.Run("LRML", 1, 0.70, 0.4, memories: 10), InteractiveTestData.Run("CML", 1, 0.55, 0.4, memories: 5),
        };
        var fig = Figure(Charts.MetricVsParameter(runs, "lrml.memories", "HR@10"));
        var data = fig["data"]!.AsArray();
        Assert.Equal("LRML", data[0]!["name"]!.GetValue<string>());
        Assert.Equal([5.0, 10.0], data[0]!["x"]!.AsArray().Select(v => v!.GetValue<double>()));
        Assert.Equal(0.62, data[0]!["y"]![0]!.GetValue<double>(), 12);
        Assert.Equal("CML", data[1]!["name"]!.GetValue<string>());
        var ex = Assert.Throws<ArgumentException>(() => Charts.MetricVsParameter(runs, "lrml.heads", "HR@10"));
        Assert.Contains("lrml.heads", ex.Message);
        Assert.Throws<ArgumentException>(() => Charts.MetricVsParameter(runs, "lrml.memories", "MRR"));
    }

    [Fact]
    public void Bars_GroupedWithErrors_AndMetricBarsFromRuns()
    {
        var fig = Figure(Charts.Bars(["HR@10", "nDCG@10"], [new BarSeries("a", [0.5, 0.3], [0.01, 0.02])], "value"));
        Assert.Equal("bar", fig["data"]![0]!["type"]!.GetValue<string>());
        Assert.Equal("group", fig["layout"]!["barmode"]!.GetValue<string>());
        Assert.Throws<ArgumentException>(() => Charts.Bars(["a", "b"], [new BarSeries("x", [1])], "v"));
        var runs = new[] { InteractiveTestData.Run("LRML", 1, 0.6, 0.4), InteractiveTestData.Run("LRML", 2, 0.8, 0.2) };
        var mb = Figure(Charts.MetricBars(runs, ["HR@10", "nDCG@10"]));
        Assert.Equal(0.7, mb["data"]![0]!["y"]![0]!.GetValue<double>(), 12);
        Assert.Equal(Math.Sqrt(0.02), mb["data"]![0]!["error_y"]!["array"]![0]!.GetValue<double>(), 12);
    }

    [Fact]
    public void Histogram_BinsComputedHere()
    {
        var edges = Charts.HistogramEdges([0, 1, 2, 3, 4], 4, logBins: false);
        Assert.Equal([0.0, 1, 2, 3, 4], edges);
        Assert.Equal([1L, 1, 1, 2], Charts.HistogramCounts([0, 1, 2, 3, 4], edges));   // last bin includes its upper edge
        var log = Charts.HistogramEdges([1, 10, 100], 2, logBins: true);
        Assert.Equal(1, log[0], 12); Assert.Equal(10, log[1], 9); Assert.Equal(100, log[2], 9);
        Assert.Throws<ArgumentException>(() => Charts.HistogramEdges([0, 5], 3, logBins: true));
        var fig = Figure(Charts.Histogram([1, 1, 2, 50], "x", bins: 3));
        Assert.Equal(4, fig["data"]![0]!["y"]!.AsArray().Sum(v => v!.GetValue<long>()));
    }

    [Fact]
    public void Scatter2D_CategoricalOneTracePerLabel_ContinuousOneColourScale()
    {
        var cat = Figure(Charts.Scatter2D([0, 1, 2, 3], [0, 1, 0, 1], ["drama", "comedy", "drama", "horror"]));
        var traces = cat["data"]!.AsArray();
        Assert.Equal(["drama", "comedy", "horror"], traces.Select(t => t!["name"]!.GetValue<string>()));
        Assert.Equal([0.0, 2.0], traces[0]!["x"]!.AsArray().Select(v => v!.GetValue<double>()));
        var cont = Figure(Charts.Scatter2D([0, 1], [1, 0], [5.0, 50.0], "popularity"));
        var marker = cont["data"]![0]!["marker"]!;
        Assert.Equal("Viridis", marker["colorscale"]!.GetValue<string>());
        Assert.True(marker["showscale"]!.GetValue<bool>());
        Assert.Throws<ArgumentException>(() => Charts.Scatter2D([0, 1], [1, 0], ["a"]));
    }

    [Fact]
    public void Scatter2D_SixteenClassesGetSixteenColours_TheBackgroundClassIsGreyAndDrawnFirst()
    {
        var labels = Enumerable.Range(0, 17).Select(i => i == 16 ? "several genres" : $"genre {i:00}").ToArray();
        var x = labels.Select((_, i) => (double)i).ToArray();
        var fig = Figure(Charts.Scatter2D(x, x, labels, backgroundLabel: "several genres"));
        var traces = fig["data"]!.AsArray();
        Assert.Equal(17, traces.Count);
        Assert.Equal("several genres", traces[0]!["name"]!.GetValue<string>());
        Assert.Equal(Charts.BackgroundColor, traces[0]!["marker"]!["color"]!.GetValue<string>());
        var colours = traces.Skip(1).Select(t => t!["marker"]!["color"]!.GetValue<string>()).ToList();
        Assert.Equal(16, colours.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.DoesNotContain(Charts.BackgroundColor, colours);
        // ten classes or fewer keep plotly's familiar colour way
        var few = Figure(Charts.Scatter2D([0, 1], [0, 1], ["a", "b"]));
        Assert.Equal(Charts.Palette[1], few["data"]![1]!["marker"]!["color"]!.GetValue<string>());
    }

    [Fact]
    public void Heatmap_RowsAreSlots_ColumnsAreLabels()
    {
        var fig = Figure(Charts.Heatmap([[0.1, 0.9], [0.5, 0.5], [1, 0]], ["slot 1", "slot 2", "slot 3"], ["drama", "comedy"]));
        var t = fig["data"]![0]!;
        Assert.Equal("heatmap", t["type"]!.GetValue<string>());
        Assert.Equal(3, t["z"]!.AsArray().Count);
        Assert.Equal(0.9, t["z"]![0]![1]!.GetValue<double>());
        Assert.Equal("reversed", fig["layout"]!["yaxis"]!["autorange"]!.GetValue<string>());
        Assert.Throws<ArgumentException>(() => Charts.Heatmap([[1.0]], ["a", "b"], ["c"]));
    }

    [Fact]
    public void TrainingCurves_LossOnTop_ValidationBelow_BestEpochStarred()
    {
        var epochs = new[]
        {
            new EpochRecord(1, 10, 0.9, 1, 0.1, new Dictionary<string, double> { ["HR@10"] = 0.5 }, true, 5),
            new EpochRecord(2, 8, 0.7, 1, 0, null, false, 5),
            new EpochRecord(3, 6, 0.6, 1, 0.1, new Dictionary<string, double> { ["HR@10"] = 0.6 }, true, 5),
        };
        var fig = Figure(Charts.TrainingCurves(epochs));
        var data = fig["data"]!.AsArray();
        Assert.Equal(3, data.Count);                                                  // loss, validation, best star
        Assert.Equal([0.9, 0.7, 0.6], data[0]!["y"]!.AsArray().Select(v => v!.GetValue<double>()));
        Assert.Equal([1.0, 3.0], data[1]!["x"]!.AsArray().Select(v => v!.GetValue<double>()));
        Assert.Equal("y2", data[1]!["yaxis"]!.GetValue<string>());
        Assert.Equal(3.0, data[2]!["x"]![0]!.GetValue<double>());
        Assert.Equal("star", data[2]!["marker"]!["symbol"]!.GetValue<string>());
        Assert.Contains("HR@10", fig["layout"]!["yaxis2"]!["title"]!["text"]!.GetValue<string>());
    }

    [Fact]
    public void Ccdf_ShareOfValuesAtLeastK()
    {
        var (k, share) = DatasetPlots.Ccdf([1, 1, 2, 4]);
        Assert.Equal([1.0, 2, 4], k);
        Assert.Equal([1.0, 0.5, 0.25], share);
        var (k2, _) = DatasetPlots.Ccdf(Enumerable.Range(1, 5000).ToArray(), maxPoints: 50);
        Assert.True(k2.Length <= 51, $"{k2.Length} points");
        Assert.Equal(1, k2[0]); Assert.Equal(5000, k2[^1]);
    }

    [Fact]
    public void TrySavePng_DrawsTheChart_WhenChromiumIsInstalled()
    {
        if (Chromium.Find() is null) Assert.Skip(Chromium.NotFoundMessage);
        string dir = Directory.CreateTempSubdirectory("lrml-png").FullName;
        try
        {
            string png = Path.Combine(dir, "bars.png");
            var chart = Charts.Bars(["a", "b"], [new BarSeries("s", [3, 5])], "value", width: 400, height: 300);
            Assert.True(Charts.TrySavePng(chart, png, out string? reason), reason);
            var image = PngImage.Load(png);
            Assert.Equal(416, image.Width);
            Assert.True(image.CountChromatic() > 20_000, $"only {image.CountChromatic()} coloured pixels: the chart was not drawn");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
