using System.Text.Json.Nodes;
using Lrml.Experiments;
using Lrml.Reproduction.Plots;
using Lrml.Reproduction;

namespace Lrml.Tests.Reproduction.Tables;

/// <summary>The charts each reproduction report builds, checked on small hand-made tables.</summary>
public class ReproductionChartsTests
{
    private static JsonObject Figure(NamedChart chart) => JsonNode.Parse(PlotlyHtml.FigureJson(chart.Chart))!.AsObject();

    private static double?[] Numbers(JsonNode? array) => array!.AsArray().Select(v => v is null ? (double?)null : v.GetValue<double>()).ToArray();

    /// <summary>A main table as MainTable builds it: two datasets; CML did not run on ml-100k.</summary>
    internal static ResultTable MainTableByHand()
    {
        var t = new ResultTable("Main results (test)", "dataset", "protocol", "model", "seeds");
        void Row(string dataset, string model, double hr, double hrStd, double nd, double ndStd, double fr, double frStd, double fn, double fnStd) =>
            t.AddRow(("dataset", dataset), ("protocol", dataset == "ml-1m" ? "ncf" : "leave-last-out"), ("model", model), ("seeds", 2),
                ("HR@10", hr), ("HR@10 std", hrStd), ("nDCG@10", nd), ("nDCG@10 std", ndStd),
                ("full Recall@10", fr), ("full Recall@10 std", frStd), ("full nDCG@10", fn), ("full nDCG@10 std", fnStd),
                ("paper HR@10", double.NaN), ("paper nDCG@10", double.NaN));
        Row("ml-1m", "LRML", 0.70, 0.01, 0.42, 0.02, 0.10, 0.001, 0.050, 0.002);
        Row("ml-1m", "CML", 0.66, 0.03, 0.40, 0.04, 0.12, 0.003, 0.060, 0.004);
        Row("ml-100k", "LRML", 0.50, 0.05, 0.30, 0.06, 0.09, 0.005, 0.045, 0.006);
        return t;
    }

    [Fact]
    public void MainTable_GroupedBarsPerDatasetAndMetric_OneTracePerModel_StdErrorBars()
    {
        var charts = MainTable.Charts(MainTableByHand());
        Assert.Equal(["main-table-sampled", "main-table-full"], charts.Select(c => c.Name));

        var sampled = Figure(charts[0]);
        var data = sampled["data"]!.AsArray();
        Assert.Equal(["LRML", "CML"], data.Select(d => (string)d!["name"]!));
        Assert.All(data, d => Assert.Equal("bar", (string)d!["type"]!));
        Assert.Equal("group", (string)sampled["layout"]!["barmode"]!);
        Assert.Equal(["ml-1m · HR@10", "ml-1m · nDCG@10", "ml-100k · HR@10", "ml-100k · nDCG@10"],
            data[0]!["x"]!.AsArray().Select(x => (string)x!));
        Assert.Equal([0.70, 0.42, 0.50, 0.30], Numbers(data[0]!["y"]));
        Assert.Equal([0.01, 0.02, 0.05, 0.06], Numbers(data[0]!["error_y"]!["array"]));
        Assert.True((bool)data[0]!["error_y"]!["visible"]!);
        // CML has no ml-100k row: gaps, not zeros
        Assert.Equal([0.66, 0.40, null, null], Numbers(data[1]!["y"]));
        Assert.Equal([0.03, 0.04, null, null], Numbers(data[1]!["error_y"]!["array"]));

        var full = Figure(charts[1]);
        var fdata = full["data"]!.AsArray();
        Assert.Equal(["ml-1m · Recall@10", "ml-1m · nDCG@10", "ml-100k · Recall@10", "ml-100k · nDCG@10"],
            fdata[0]!["x"]!.AsArray().Select(x => (string)x!));
        Assert.Equal([0.12, 0.060, null, null], Numbers(fdata[1]!["y"]));
        Assert.Equal([0.001, 0.002, 0.005, 0.006], Numbers(fdata[0]!["error_y"]!["array"]));
        Assert.Contains("Full ranking", charts[1].Title);
    }

    [Fact]
    public void MemoryUsageCurves_FourPanelsPerRun_GapsWhereAnEpochHasNoDiagnostics()
    {
        var d1 = new Dictionary<string, double>
        {
            ["attention_entropy_ratio"] = 0.99, ["attention_max"] = 0.06, ["relation_spread"] = 0.001, ["relation_norm"] = 0.3, ["user_item_distance"] = 0.6,
        };
        var epochs = new List<Lrml.Training.EpochRecord>
        {
            new(1, 10, 0.5, 1, 0, null, true, 3) { Diagnostics = d1 },
            new(2, 8, 0.4, 1, 0, null, false, 3),
        };
        var fig = JsonNode.Parse(PlotlyHtml.FigureJson(Charts.MemoryUsageCurves([("preset", epochs), ("tau-0.01", epochs)])))!.AsObject();
        var data = fig["data"]!.AsArray();
        Assert.Equal(8, data.Count);                                                   // 4 panels × 2 runs
        Assert.Equal([0.99, null], Numbers(data[0]!["y"]));                            // entropy ratio; epoch 2 has none
        Assert.Equal([0.5, null], Numbers(data[6]!["y"]));                             // ‖r‖ / ‖p − q‖ = 0.3 / 0.6
        Assert.Equal("‖r‖ / ‖p − q‖", (string)fig["layout"]!["yaxis4"]!["title"]!["text"]!);
        Assert.Equal(["preset", "tau-0.01"], data.Where(t => (bool)t!["showlegend"]!).Select(t => (string)t!["name"]!));
    }

    private static ResultTable AblationByHand(string setting, params (object Value, double Hr, double HrStd, double Nd, double NdStd)[] rows)
    {
        var t = new ResultTable("ablation", setting, "HR@10", "HR@10 std", "nDCG@10", "nDCG@10 std", "validation nDCG@10", "seeds");
        foreach (var r in rows)
            t.AddRow((setting, r.Value), ("HR@10", r.Hr), ("HR@10 std", r.HrStd), ("nDCG@10", r.Nd), ("nDCG@10 std", r.NdStd),
                ("validation nDCG@10", r.Nd), ("seeds", 2));
        return t;
    }

    [Fact]
    public void NumericAblation_IsALineChartSortedByValue_WithErrorBars_AndALogAxisForN()
    {
        var spec = new AblationSpec("slots", "Memory slots N", "slots", ["1", "5", "20"], Numeric: true, LogX: true);
        // rows deliberately out of order: the chart sorts by the setting
        var table = AblationByHand("slots", (20.0, 0.50, 0.01, 0.30, 0.02), (1.0, 0.40, 0.03, 0.22, 0.04), (5.0, 0.45, 0.05, 0.26, 0.06));
        var chart = Ablations.Chart(spec, table);
        Assert.Equal("ablation-slots", chart.Name);
        var fig = Figure(chart);
        var data = fig["data"]!.AsArray();
        Assert.Equal(["HR@10", "nDCG@10"], data.Select(d => (string)d!["name"]!));
        Assert.All(data, d => Assert.Equal("scatter", (string)d!["type"]!));
        Assert.Equal([1.0, 5.0, 20.0], Numbers(data[0]!["x"]));
        Assert.Equal([0.40, 0.45, 0.50], Numbers(data[0]!["y"]));
        Assert.Equal([0.03, 0.05, 0.01], Numbers(data[0]!["error_y"]!["array"]));
        Assert.Equal([0.22, 0.26, 0.30], Numbers(data[1]!["y"]));
        Assert.Equal([0.04, 0.06, 0.02], Numbers(data[1]!["error_y"]!["array"]));
        Assert.Equal("log", (string)fig["layout"]!["xaxis"]!["type"]!);

        var margin = Ablations.Chart(spec with { Name = "margin", Setting = "margin", LogX = false },
            AblationByHand("margin", (0.5, 0.5, 0.0, 0.3, 0.0), (1.0, 0.4, 0.0, 0.2, 0.0)));
        Assert.Null(Figure(margin)["layout"]!["xaxis"]!["type"]);   // linear axis
    }

    [Fact]
    public void CategoricalAblation_IsAGroupedBarChartInTableOrder_WithErrorBars()
    {
        var spec = new AblationSpec("distance", "Distance", "distance", ["sqrt-l2", "squared-l2", "l1"], Numeric: false);
        var table = AblationByHand("distance", ("sqrt-l2", 0.50, 0.01, 0.30, 0.02), ("squared-l2", 0.48, 0.03, 0.28, 0.04), ("l1", 0.46, 0.05, 0.27, 0.06));
        var fig = Figure(Ablations.Chart(spec, table));
        var data = fig["data"]!.AsArray();
        Assert.Equal(2, data.Count);
        Assert.All(data, d => Assert.Equal("bar", (string)d!["type"]!));
        Assert.Equal(["sqrt-l2", "squared-l2", "l1"], data[0]!["x"]!.AsArray().Select(x => (string)x!));
        Assert.Equal([0.30, 0.28, 0.27], Numbers(data[1]!["y"]));
        Assert.Equal([0.02, 0.04, 0.06], Numbers(data[1]!["error_y"]!["array"]));
        Assert.Equal("category", (string)fig["layout"]!["xaxis"]!["type"]!);
    }

    internal static ResultTable CurvesByHand()
    {
        var t = new ResultTable("Training curves on x", "model", "epoch", "mean loss", "validation nDCG@10", "validation HR@10", "seconds");
        (double Loss, double Nd)[] lrml = [(0.5, 0.20), (0.3, 0.26), (0.2, 0.25)];
        (double Loss, double Nd)[] cml = [(0.6, 0.10), (0.4, 0.15), (0.3, 0.18)];
        for (int e = 0; e < 3; e++) t.AddRow(("model", "LRML"), ("epoch", e + 1), ("mean loss", lrml[e].Loss), ("validation nDCG@10", lrml[e].Nd), ("validation HR@10", 0.5), ("seconds", 1.0));
        for (int e = 0; e < 3; e++) t.AddRow(("model", "CML"), ("epoch", e + 1), ("mean loss", cml[e].Loss), ("validation nDCG@10", cml[e].Nd), ("validation HR@10", 0.4), ("seconds", 2.0));
        return t;
    }

    internal static ResultTable CostByHand()
    {
        var t = new ResultTable("cost", "slots N", "dim d", "s/epoch", "triples/s", "sampled eval s", "full eval s", "state MB", "params");
        void Row(int n, int d, double sec, double mb) =>
            t.AddRow(("slots N", n), ("dim d", d), ("s/epoch", sec), ("triples/s", 1000 / sec), ("sampled eval s", sec / 10), ("full eval s", sec * 2), ("state MB", mb), ("params", 1000L * d));
        Row(50, 100, 4.0, 3.2);   // out of order on purpose
        Row(1, 100, 1.0, 3.0);
        Row(20, 100, 2.0, 3.1);
        Row(20, 25, 0.5, 0.8);
        Row(20, 50, 1.0, 1.6);
        return t;
    }

    [Fact]
    public void Dynamics_CurvesPerModel_BestEpochStarred_CostAgainstNAndD_OnTwoPanelsFromZero()
    {
        var charts = Dynamics.Charts(CurvesByHand(), CostByHand());
        Assert.Equal(["dynamics-curves", "dynamics-cost-slots", "dynamics-cost-dim"], charts.Select(c => c.Name));

        var curves = Figure(charts[0])["data"]!.AsArray();
        var loss = curves.Where(d => (string?)d!["yaxis"] == "y").ToList();
        Assert.Equal(["LRML", "CML"], loss.Select(d => (string)d!["name"]!));
        Assert.Equal([0.5, 0.3, 0.2], Numbers(loss[0]!["y"]));
        var stars = curves.Where(d => ((string)d!["name"]!).EndsWith(" best", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, stars.Count);
        Assert.Equal([2.0], Numbers(stars[0]!["x"]));          // LRML's best validation is epoch 2 (0.26), not the last
        Assert.Equal([0.26], Numbers(stars[0]!["y"]));
        Assert.Equal([3.0], Numbers(stars[1]!["x"]));          // CML still improving at its last epoch

        var slots = Figure(charts[1]);
        var sd = slots["data"]!.AsArray();
        var train = sd.Single(d => (string)d!["name"]! == "training s/epoch");
        Assert.Equal([1.0, 20.0, 50.0], Numbers(train!["x"]));  // only d = 100 rows, sorted by N
        Assert.Equal([1.0, 2.0, 4.0], Numbers(train!["y"]));
        var state = sd.Single(d => ((string)d!["name"]!).Contains("state MB", StringComparison.Ordinal));
        Assert.Equal("y2", (string)state!["yaxis"]!);             // memory on the second panel
        Assert.Equal([3.0, 3.1, 3.2], Numbers(state!["y"]));
        Assert.Equal("log", (string)slots["layout"]!["xaxis2"]!["type"]!);
        Assert.Equal("tozero", (string)slots["layout"]!["yaxis"]!["rangemode"]!);
        Assert.Equal("tozero", (string)slots["layout"]!["yaxis2"]!["rangemode"]!);

        var dim = Figure(charts[2])["data"]!.AsArray();
        var dtrain = dim.Single(d => (string)d!["name"]! == "training s/epoch");
        Assert.Equal([25.0, 50.0, 100.0], Numbers(dtrain!["x"])); // only N = 20 rows, sorted by d
        Assert.Equal([0.5, 1.0, 2.0], Numbers(dtrain!["y"]));
    }

    [Fact]
    public void LinePanels_SharedXAxis_OneLegendEntryPerName_StackedDomains()
    {
        var chart = Charts.LinePanels(
        [
            ("seconds", [new Series("a", [1, 2], [1, 2]), new Series("b", [1, 2], [3, 4])]),
            ("MB", [new Series("a", [1, 2], [5, 6], [0.1, 0.2])]),
        ], "N", "t", logX: true);
        var fig = JsonNode.Parse(PlotlyHtml.FigureJson(chart))!.AsObject();
        var data = fig["data"]!.AsArray();
        Assert.Equal(3, data.Count);
        Assert.True((bool)data[0]!["showlegend"]!);
        Assert.False((bool)data[2]!["showlegend"]!);                                   // "a" again: no second legend entry
        Assert.Equal((string)data[0]!["line"]!["color"]!, (string)data[2]!["line"]!["color"]!);
        Assert.NotNull(data[2]!["error_y"]);
        var layout = fig["layout"]!;
        Assert.Equal("x2", (string)layout["xaxis"]!["matches"]!);                      // top panel follows the bottom x axis
        Assert.Equal("N", (string)layout["xaxis2"]!["title"]!["text"]!);
        var top = Numbers(layout["yaxis"]!["domain"]); var bottom = Numbers(layout["yaxis2"]!["domain"]);
        Assert.True(bottom[1] < top[0], "panels overlap");
        Assert.Equal(1.0, top[1]!.Value, 9);
        Assert.Equal(0.0, bottom[0]!.Value, 9);
        Assert.Throws<ArgumentException>(() => Charts.LinePanels([], "x"));
    }

    [Fact]
    public void ChartFiles_WriteOneSelfContainedPagePerChart_AndRejectBadNames()
    {
        string dir = Directory.CreateTempSubdirectory("lrml-charts").FullName;
        try
        {
            var charts = MainTable.Charts(MainTableByHand());
            var written = ChartFiles.Save(charts, dir, png: false);
            Assert.Equal([Path.Combine(dir, "main-table-sampled.html"), Path.Combine(dir, "main-table-full.html")], written);
            Assert.Equal(2, Directory.GetFiles(dir).Length);                               // atomic writes leave no temporaries
            string html = File.ReadAllText(written[0]);
            Assert.Contains("<title>Sampled candidates: HR@10 and nDCG@10", html);
            Assert.Contains("\"name\":\"CML\"", html);
            Assert.Throws<ArgumentException>(() => ChartFiles.Save([new NamedChart("Bad Name", charts[0].Chart)], dir, png: false));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
