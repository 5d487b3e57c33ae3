using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction;
using Lrml.Training;

namespace Lrml.Tests.Reproduction;

/// <summary>The estimate's "expected" time: typical epochs read from finished runs, and the one duration formula at fractional
/// epochs (the same formula the bench's full-profile projection uses), checked on hand-computed examples.</summary>
public class TypicalEpochsTests
{
    private static string WriteRuns(params (string Dataset, string Run, string Json)[] runs)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"lrml-typical-{Guid.NewGuid():N}");
        foreach (var (dataset, run, json) in runs)
        {
            string d = Path.Combine(dir, "runs", dataset, run);
            Directory.CreateDirectory(d);
            File.WriteAllText(Path.Combine(d, "result.json"), json);
        }
        return dir;
    }

    [Fact]
    public void MedianEpochsPerModelAcrossDatasetsAndSeeds_CappedByTheRunsMaximum()
    {
        string dir = WriteRuns(("ml-1m", "cml-seed1", """{"model":"cml","epochs":12}"""), ("ml-1m", "cml-seed2", """{"model":"cml","epochs":20}"""),
            ("ml-100k", "cml-seed1", """{"model":"cml","epochs":14}"""), ("ml-1m", "bpr-seed1", """{"model":"bpr","epochs":7}"""),
            ("ml-1m", "bpr-seed2", """{"model":"bpr","epochs":8}"""), ("ml-1m", "pop-seed1", """{"model":"pop","epochs":0}"""));
        try
        {
            var t = TypicalEpochs.FromFinishedRuns(dir);
            Assert.Equal(14, t.ByModel["cml"]);          // median of 12, 14, 20
            Assert.Equal(7.5, t.ByModel["bpr"]);         // median of 7, 8
            Assert.False(t.ByModel.ContainsKey("pop"));  // nothing trained
            Assert.Contains("5 finished run(s)", t.Source);
            var spec = new RunSpec { Dataset = "ml-1m", Model = "cml", Train = new TrainConfig { Epochs = 30 } };
            Assert.Equal(14, t.For(spec));
            Assert.Equal(10, t.For(spec with { Train = spec.Train with { Epochs = 10 } }));   // never above the maximum
            Assert.Equal(30, t.For(spec with { Model = "gmf" }));                              // no runs of the model: its maximum
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void NoRunsMeansTheMaximumAndABadResultNamesItsFile()
    {
        var none = TypicalEpochs.FromFinishedRuns(Path.Combine(Path.GetTempPath(), $"lrml-none-{Guid.NewGuid():N}"));
        Assert.Empty(none.ByModel);
        Assert.Contains("no finished runs", none.Source);
        string dir = WriteRuns(("ml-1m", "cml-seed1", """{"model":"cml"}"""));
        try
        {
            var e = Assert.Throws<DataFormatException>(() => TypicalEpochs.FromFinishedRuns(dir));
            Assert.Contains(Path.Combine("cml-seed1", "result.json"), e.Message);
            Assert.Contains("epochs", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void RunSecondsAtExpectedEpochs_HandComputed()
    {
        // 1,000 pairs × 4 negatives at 2,000 triples/s = 2 s per epoch; validation: 10 users × 100 candidates (99 sampled + 1)
        // / 500 scores/s = 2 s per epoch → 4 s per epoch. Test: 10 × 100 sampled + 10 × 50 items full = 1,500 scores / 500 = 3 s.
        var counts = new SplitCounts("ncf", 1_000, 50, 10, true, 10, true);
        var spec = new RunSpec { Dataset = "x", Model = "cml", Train = new TrainConfig { Epochs = 30, NegativesPerPositive = 4 } };
        var speed = new DurationEstimator.Throughput(2_000, 500);
        Assert.Equal(30 * 4 + 3 + DurationEstimator.OverheadSecondsPerRun, DurationEstimator.RunSeconds(spec, counts, speed, 30), 9);  // at most: 125 s
        Assert.Equal(12.5 * 4 + 3 + DurationEstimator.OverheadSecondsPerRun, DurationEstimator.RunSeconds(spec, counts, speed, 12.5), 9); // expected: 55 s
        // a model that does not train: test scores and overhead only, whatever the epochs
        Assert.Equal(3 + DurationEstimator.OverheadSecondsPerRun, DurationEstimator.RunSeconds(spec, counts, speed with { TriplesPerSecond = double.NaN }, 30), 9);
    }
}
