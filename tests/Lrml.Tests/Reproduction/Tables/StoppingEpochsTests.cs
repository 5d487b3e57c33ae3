using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction;
using Lrml.Tests.Protocols;

namespace Lrml.Tests.Reproduction.Tables;

/// <summary>The recorded stopping epochs the estimate ships with: recorded from finished runs and read back, malformed records
/// named, the estimate expecting a recorded run's own epochs, and the shipped record covering the full profile's plan.</summary>
public class StoppingEpochsTests
{
    /// <summary>An identity of a run with a model, seed and thread count (enough parts to tell runs apart).</summary>
    private static RunIdentity Identity(string model, int seed, int threads) =>
        new(new System.Text.Json.Nodes.JsonObject { ["model"] = model, ["train"] = new System.Text.Json.Nodes.JsonObject { ["seed"] = seed, ["threads"] = threads } });

    private static string WriteRun(string root, string dataset, string run, RunIdentity identity, string result, string? key = null)
    {
        string d = Path.Combine(root, "runs", dataset, run);
        Directory.CreateDirectory(d);
        File.WriteAllText(Path.Combine(d, "spec.json"),
            new System.Text.Json.Nodes.JsonObject { ["key"] = key ?? identity.Key, ["identity"] = identity.Parts.DeepClone() }.ToJsonString());
        File.WriteAllText(Path.Combine(d, "result.json"), result);
        return d;
    }

    [Fact]
    public void KeyOf_IsTheIdentityWithoutItsThreadCount()
    {
        Assert.Equal(StoppingEpochs.KeyOf(Identity("cml", 1, 2)), StoppingEpochs.KeyOf(Identity("cml", 1, 8)));   // threads left out
        Assert.NotEqual(Identity("cml", 1, 2).Key, Identity("cml", 1, 8).Key);                                     // (they are part of the identity)
        Assert.NotEqual(StoppingEpochs.KeyOf(Identity("cml", 1, 2)), StoppingEpochs.KeyOf(Identity("cml", 2, 2))); // the seed is not
        Assert.NotEqual(StoppingEpochs.KeyOf(Identity("cml", 1, 2)), StoppingEpochs.KeyOf(Identity("bpr", 1, 2))); // nor the model
        Assert.Equal(2, Identity("cml", 1, 2).Parts["train"]!["threads"]!.GetValue<int>());                        // the identity is not changed
    }

    [Fact]
    public void Record_ReadsEveryTrainedRunsKeyAndEpochs_WithTheRunsProvenance_AndParsesBack()
    {
        string root = Directory.CreateTempSubdirectory("lrml-stop").FullName;
        try
        {
            var (one, two, pop) = (Identity("cml", 1, 2), Identity("cml", 2, 2), Identity("pop", 1, 2));
            WriteRun(root, "ml-1m", "cml-seed1", one, """{"model":"CML","dataset":"ml-1m","seed":1,"epochs":23,"commit":"0123456789abcdef0123","started_utc":"2026-12-04T03:41:59Z"}""");
            WriteRun(root, "ml-1m", "cml-seed2", two, """{"model":"cml","dataset":"ml-1m","seed":2,"epochs":30,"commit":"fedcba9876543210fedc-dirty (build stamp)","started_utc":"2026-12-05T00:00:01Z"}""");
            WriteRun(root, "ml-1m", "pop-seed1", pop, """{"model":"Popularity","dataset":"ml-1m","seed":1,"epochs":0}""");
            string json = StoppingEpochs.Record(root, "`test`");
            var back = StoppingEpochs.Parse(json, "x.json");
            // popularity trains nothing: left out; keys without the thread count
            Assert.Equal(new Dictionary<string, int> { [StoppingEpochs.KeyOf(one)] = 23, [StoppingEpochs.KeyOf(two)] = 30 }, back.ByKey);
            Assert.Equal(23, back.For(StoppingEpochs.KeyOf(Identity("cml", 1, 4))));   // the same run on 4 threads
            Assert.Null(back.For(StoppingEpochs.KeyOf(pop)));
            // each commit in 12 digits, a build from a tree with uncommitted changes marked as git marks it
            Assert.Equal("`test` (trained by kit commit 0123456789ab, fedcba987654-dirty, 2026-12-04 – 2026-12-05)", back.Source);
            Assert.Equal(2, json.Split('\n').Count(l => l.Contains("\"key\"")));                  // one run per line
            string file = Path.Combine(root, "record.json");
            Assert.Equal(2, StoppingEpochs.WriteRecord(root, file, "`test`"));
            Assert.Equal(json, File.ReadAllText(file));
            // a spec.json whose identity does not hash to its key is not a run of that identity: named, and nothing is written
            WriteRun(root, "ml-1m", "cml-seed3", Identity("cml", 3, 2), """{"model":"cml","seed":3,"epochs":9}""", key: "0000000000000000");
            var e = Assert.Throws<DataFormatException>(() => StoppingEpochs.WriteRecord(root, file, "`test`"));
            Assert.Contains(Path.Combine("cml-seed3", "spec.json"), e.Message);
            Assert.Contains("not to its key 0000000000000000", e.Message);
            Assert.Equal(json, File.ReadAllText(file));
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void TypicalFor_IsTheMedianPerModelOfTheRecordedRunsOnADataset()
    {
        var r = StoppingEpochs.Parse("""
            {"source":"a test record","runs":[
              {"key":"a","dataset":"ml-1m","model":"cml","seed":1,"epochs":20},{"key":"b","dataset":"ml-1m","model":"cml","seed":2,"epochs":30},
              {"key":"c","dataset":"ml-1m","model":"cml","seed":3,"epochs":25},{"key":"d","dataset":"ml-1m","model":"bpr","seed":1,"epochs":7},
              {"key":"e","dataset":"ml-100k","model":"cml","seed":1,"epochs":50},{"key":"f","epochs":3}]}
            """, "x.json");
        var t = r.TypicalFor("ml-1m")!;
        Assert.Equal(new Dictionary<string, double> { ["cml"] = 25, ["bpr"] = 7 }, t.ByModel);   // median of 20, 25, 30; ml-100k's and the unlabelled run left out
        Assert.Equal("4 runs on ml-1m in the kit's record of a test record (median epochs per model: bpr 7, cml 25)", t.Source);
        Assert.Null(r.TypicalFor("netflix"));
    }

    [Theory]
    [InlineData("""{"runs":[]}""", "\"source\"")]
    [InlineData("""{"source":"s"}""", "\"runs\"")]
    [InlineData("""{"source":"s","runs":[{"key":"a","epochs":-1}]}""", "runs[0] needs")]
    [InlineData("""{"source":"s","runs":[{"key":"a","epochs":3},{"key":"a","epochs":4}]}""", "runs[1]: the key a is recorded twice")]
    [InlineData("""{"source":"s","runs":[{"epochs":3}]}""", "runs[0] needs")]
    [InlineData("""{"source":"s","runs":[3]}""", "runs[0] is not an object")]
    [InlineData("""{"source":""", "not valid JSON")]
    public void Parse_NamesTheFileAndTheReason(string json, string reason)
    {
        var e = Assert.Throws<DataFormatException>(() => StoppingEpochs.Parse(json, "stopping-epochs.json"));
        Assert.Contains("stopping-epochs.json", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Estimate_ExpectsARecordedRunsOwnEpochs_AndTheMaximumForTheOthers()
    {
        string root = Directory.CreateTempSubdirectory("lrml-stop-est").FullName;
        try
        {
            var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root };
            var options = new MainTableOptions { Profile = Profile.Quick with { MaxEpochs = 12 }, Datasets = ["synthetic"], Models = ["bpr"], Seeds = 2, Threads = 1 };
            var plan = MainTable.Plan(options, ctx);
            Assert.Equal(2, plan.Count);
            string recordedKey = StoppingEpochs.KeyOf(RunIdentity.Of(plan[0].Spec with { Train = plan[0].Spec.Train with { Threads = 3 } }, ctx));   // recorded on 3 threads
            var record = new StoppingEpochs(new Dictionary<string, int> { [recordedKey] = 3, ["not-planned"] = 1 }, "a test record");
            var est = DurationEstimator.Estimate("test", plan, ctx, calibrationSeconds: 0.05, recorded: record);
            int row = Enumerable.Range(0, est.Table.Rows.Count).Single(r => est.Table.Text(r, "model") == "BPR-MF");
            Assert.Equal((3 + 12) / 2.0, (double)est.Table.Get(row, "expected epochs")!);   // seed 1 recorded at 3, seed 2 at its maximum
            // both runs at the measured speed: 'expected' is exactly the formula at 3 and 12 epochs, 'at most' at 12 and 12
            var speed = new DurationEstimator.Throughput((double)est.Table.Get(row, "triples/s")!, (double)est.Table.Get(row, "scores/s")!);
            var spec = plan[0].Spec;
            string protocol = (spec.Protocol ?? Experiment.DefaultProtocol(spec.Dataset, ctx)).ToLowerInvariant();
            var split = Experiment.GetSplit(spec.Dataset, protocol, spec.SplitSeed, spec.SampledNegativesFor(protocol), ctx);
            var counts = SplitCounts.Of(split);
            double three = DurationEstimator.RunSeconds(plan[0].Spec, counts, speed, 3), twelve = DurationEstimator.RunSeconds(plan[1].Spec, counts, speed, 12);
            Assert.Equal(three + twelve, est.Expected.TotalSeconds, tolerance: 2e-7);   // a TimeSpan holds whole 100 ns ticks
            Assert.Equal(2 * twelve, est.Total.TotalSeconds, tolerance: 2e-7);
            Assert.Equal("each run to its own stopping epoch in the kit's record of a test record (1 of the 2 trained runs to do), the other 1 to their maximum epochs",
                est.ExpectedSource);
            Assert.Contains("'expected' trains each run to its own stopping epoch in the kit's record of a test record", est.Summary);
            // no record: both at their maximum, as before; a record without these runs says so
            var none = DurationEstimator.Estimate("test", plan, ctx, calibrationSeconds: 0.05);
            Assert.Equal(none.Total, none.Expected);
            Assert.StartsWith("every run to its maximum epochs", none.ExpectedSource);
            var other = DurationEstimator.Estimate("test", plan, ctx, calibrationSeconds: 0.05, recorded: new StoppingEpochs(new Dictionary<string, int> { ["x"] = 1 }, "r"));
            Assert.Contains("none of these runs is in the kit's record", other.ExpectedSource);
            // every run recorded, popularity (which trains nothing) not counted among the runs to do
            var withPop = MainTable.Plan(options with { Models = ["pop", "bpr"] }, ctx);
            var all = new StoppingEpochs(withPop.Where(p => p.Spec.Model == "bpr").ToDictionary(p => StoppingEpochs.KeyOf(RunIdentity.Of(p.Spec, ctx)), _ => 4), "a full record");
            Assert.Equal("each run to its own stopping epoch in the kit's record of a full record",
                DurationEstimator.Estimate("test", withPop, ctx, calibrationSeconds: 0.05, recorded: all).ExpectedSource);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void ShippedRecord_CoversEveryTrainedRunOfTheFullProfileOnMl1mAndMl100k()
    {
        string data = ProtocolTestData.DataRoot();
        if (!File.Exists(Path.Combine(data, "ml-1m", "ncf", "ml-1m.test.negative")) || !File.Exists(Path.Combine(data, "ml-100k", "u.data")))
            Assert.Skip($"ml-1m (with ncf/) and ml-100k not found under LRML_DATA_DIR ({data}).");
        string root = Directory.CreateTempSubdirectory("lrml-stop-shipped").FullName;
        try
        {
            var ctx = new ExperimentContext { Data = new DataDirectory(data), ResultsRoot = root };
            // on 4 threads (the record's runs trained on 2): the key leaves the thread count out
            var plan = MainTable.Plan(new MainTableOptions { Profile = Profile.Full, Datasets = ["ml-1m", "ml-100k"], Threads = 4 }, ctx);
            var trained = plan.Where(p => !Lrml.Models.ModelRegistry.Get(p.Spec.Model).Deterministic).ToList();
            Assert.Equal(70, trained.Count);   // 7 trained models × 5 seeds × 2 datasets
            var shipped = StoppingEpochs.Shipped;
            // a preset, split or training change that leaves the record stale fails here: re-record after a full run with
            // `lrml reproduce main-table --profile full --record-stopping-epochs src/Lrml.Reproduction/Tables/stopping-epochs.json`
            var missing = trained.Where(p => shipped.For(StoppingEpochs.KeyOf(RunIdentity.Of(p.Spec, ctx))) is null).Select(p => p.Directory).ToList();
            Assert.True(missing.Count == 0, "not in the shipped record: " + string.Join(", ", missing));
            Assert.All(trained, p => Assert.InRange(shipped.For(StoppingEpochs.KeyOf(RunIdentity.Of(p.Spec, ctx)))!.Value, 1, p.Spec.Train.Epochs));
        }
        finally { Directory.Delete(root, true); }
    }
}
