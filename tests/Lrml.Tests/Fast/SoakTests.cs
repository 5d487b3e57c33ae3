using System.Text.Json.Nodes;
using Lrml.Experiments;

using Lrml.Fast;

namespace Lrml.Tests.Fast;

public class SoakTests
{
    [Fact]
    public void SlopeIsTheLeastSquaresFitComputedByHand()
    {
        // y = 2x + 1 with residuals (+1, -1, -1, +1) around it: the residuals are orthogonal to x - mean(x), slope stays 2
        Assert.Equal(2.0, Soak.Slope([1, 2, 3, 4], [4, 4, 6, 10]), 12);
        // x = 0,1,2; y = 0,2,1: sxy = (-1)(-1) + 0 + (1)(0) = 1, sxx = 2 -> 0.5
        Assert.Equal(0.5, Soak.Slope([0, 1, 2], [0, 2, 1]), 12);
        Assert.Equal(0.0, Soak.Slope([3], [7]));
        Assert.Equal(0.0, Soak.Slope([2, 2, 2], [1, 5, 9]));
    }

    private static List<SoakSample> Samples(Func<int, double> rss) =>
        Enumerable.Range(1, 100).Select(e => new SoakSample(e, e * 1.5, rss(e), 50, 0.1)).ToList();

    [Fact]
    public void AFlatCurveIsFlatAndALeakIsNot()
    {
        var flat = Soak.Summarise("x", Samples(e => e < 10 ? 300 + 10 * e : 400 + (e % 2)), 250, 10);
        Assert.True(flat.Flat);
        Assert.Equal(400, flat.WarmMiB);
        Assert.Equal(401, flat.MaxMiB);
        Assert.True(Math.Abs(flat.SlopeKiBPerEpoch) < 2);
        Assert.Equal(1.5, flat.MedianEpochSeconds, 12);

        // 1 MiB per epoch: 90 MiB over epochs 10..100 — a per-step leak of a few small tensors
        var leak = Soak.Summarise("x", Samples(e => 400 + e), 250, 10);
        Assert.False(leak.Flat);
        Assert.Equal(1024, leak.SlopeKiBPerEpoch, 6);
        Assert.Equal(500, leak.LastMiB);
    }

    [Fact]
    public void ASoakOnSyntheticDataWritesItsReportForBothEngines()
    {
        string root = Directory.CreateTempSubdirectory("lrml-soak").FullName;
        var ctx = new ExperimentContext { Data = new Lrml.Data.DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root };
        var options = new SoakOptions
        {
            Dataset = "synthetic", Epochs = 4, WarmupEpochs = 2, Threads = 1, BatchSize = 2048,
            Settings = [new("dim", "8"), new("slots", "3")],
        };
        string dir = Path.Combine(root, "soak");
        var report = Soak.Run(options, ctx, dir);
        Assert.Equal(["torch", "fused"], report.Series.Select(s => s.Engine));
        foreach (var s in report.Series)
        {
            Assert.Equal([1, 2, 3, 4], s.Samples.Select(x => x.Epoch));
            Assert.All(s.Samples, x => Assert.True(x.ResidentMiB > 10 && x.ManagedMiB > 0 && double.IsFinite(x.Loss)));
        }
        Assert.Equal(9, File.ReadAllLines(Path.Combine(dir, "soak.csv")).Length);      // header + 2 engines × 4 epochs
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "soak.json")))!;
        Assert.Equal(2, json["Series"]!.AsArray().Count);
        Assert.Contains("| torch |", File.ReadAllText(Path.Combine(dir, "soak.md")));
        Assert.Contains("Plotly.newPlot", File.ReadAllText(Path.Combine(dir, "soak-memory.html")));
        Assert.True(File.Exists(Path.Combine(dir, "runs", "fused", "result.json")));
    }
}
