using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction.Sweeps;
using Lrml.Protocols;
using Lrml.Training;

namespace Lrml.Tests.Experiments;

/// <summary>
/// A number the kit reuses (a loaded dataset, a frozen split, a finished run, a sweep trial) must be provably the same
/// computation: these tests change one input on disk or on the command line and check that nothing stale comes back.
/// Issue 11, cases 1–5 (the CLI halves are in <c>Cli/StaleReuseTests</c>).
/// </summary>
[Collection("Torch models")]
public class RunIdentityTests
{
    private static ExperimentContext Context(string dataRoot, string resultsRoot) =>
        new() { Data = new DataDirectory(dataRoot), ResultsRoot = resultsRoot };

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private static RunSpec Pop(int epochs = 1) => new()
    {
        Dataset = "ml-100k", Model = "pop", SampledNegatives = 20, Train = new TrainConfig { Epochs = epochs, Threads = 1 },
    };

    /// <summary>The per-process dataset memo must not serve the old interactions after the file changed on disk.</summary>
    [Fact]
    public void LoadDatasetSeesAFileChangedOnDisk()
    {
        string root = Directory.CreateTempSubdirectory("lrml-id").FullName;
        string data = IdentityFixtures.WriteMl100k(Path.Combine(root, "data"));
        var log = new StringWriter();
        var ctx = new ExperimentContext { Data = new DataDirectory(data), ResultsRoot = Path.Combine(root, "results"), Observer = new LineObserver(log) };
        Assert.Equal(360, Experiment.LoadDataset("ml-100k", ctx).Count);
        Assert.Same(Experiment.LoadDataset("ml-100k", ctx), Experiment.LoadDataset("ml-100k", ctx));   // unchanged files: memoised
        IdentityFixtures.WriteMl100k(data, keepRows: 250);
        Assert.Equal(250, Experiment.LoadDataset("ml-100k", ctx).Count);
        Assert.Contains("Reading ml-100k again: its files changed on disk since it was loaded", log.ToString());
    }

    /// <summary>The identity names what differs: a training setting, and a data file by name with its checksums; a
    /// byte-identical copy of the data in another folder has the same identity.</summary>
    [Fact]
    public void TheIdentityCoversDataChecksumsAndSettingsAndNamesWhatDiffers()
    {
        string root = Directory.CreateTempSubdirectory("lrml-id").FullName;
        string data = IdentityFixtures.WriteMl100k(Path.Combine(root, "data"));
        string copy = IdentityFixtures.CopyMl100k(data, Path.Combine(root, "copy"));
        string other = IdentityFixtures.WriteMl100k(Path.Combine(root, "other"), keepRows: 250);
        string results = Path.Combine(root, "results");
        var a = RunIdentity.Of(Pop(2), Context(data, results));
        Assert.Equal(a.Key, RunIdentity.Of(Pop(2), Context(copy, results)).Key);
        Assert.Equal(Sha256(Path.Combine(data, "ml-100k", "u.data")), (string?)a.Parts["split"]!["files"]!["u.data"]);
        Assert.Equal(RunIdentity.NumericsVersion, (int)a.Parts["numerics_version"]!);

        var epochs = RunIdentity.Of(Pop(6), Context(data, results));
        Assert.NotEqual(a.Key, epochs.Key);
        Assert.Equal(["train.epochs: 2 (stored) vs 6 (now)"], RunIdentity.Differences(a.Parts, epochs.Parts));

        // a minimum epoch count changes when a run may stop, so it is part of the identity; 0 (the default) is left out, so the
        // identities of runs from before the setting existed stay valid
        var minEpochs = Pop(2) with { Train = Pop(2).Train with { MinEpochs = 2 } };
        Assert.Null(a.Parts["train"]!["min_epochs"]);
        Assert.Equal(["train.min_epochs: (none) (stored) vs 2 (now)"], RunIdentity.Differences(a.Parts, RunIdentity.Of(minEpochs, Context(data, results)).Parts));

        var b = RunIdentity.Of(Pop(2), Context(other, results));
        string shaA = Sha256(Path.Combine(data, "ml-100k", "u.data"))[..12], shaB = Sha256(Path.Combine(other, "ml-100k", "u.data"))[..12];
        Assert.Equal([$"checksum of u.data: {shaA} (stored) vs {shaB} (now)"], RunIdentity.Differences(a.Parts, b.Parts));
        Assert.Equal(["no identity recorded (written by an older version of the kit): it cannot be proved to be the same computation"],
            RunIdentity.Differences(null, a.Parts));
    }

    /// <summary>Case 2 in one process: a store refuses a finished run of other data, naming the file; when replacing runs is
    /// allowed it trains again, says why, and the new result is of the new data.</summary>
    [Fact]
    public void TheRunStoreReusesOnlyTheSameDataAndSaysWhyItTrainsAgain()
    {
        string root = Directory.CreateTempSubdirectory("lrml-id").FullName;
        string data = IdentityFixtures.WriteMl100k(Path.Combine(root, "data"));
        string dir = Path.Combine(root, "run");
        var log = new StringWriter();
        var ctx = new ExperimentContext { Data = new DataDirectory(data), ResultsRoot = Path.Combine(root, "results"), Observer = new LineObserver(log) };
        var first = RunStore.RunOrLoad(Pop(), ctx, dir);
        Assert.Equal(RunStore.StoredKey(dir), RunIdentity.Of(Pop(), ctx).Key);
        Assert.Equal(first.Result.Metrics, RunStore.RunOrLoad(Pop(), ctx, dir).Result.Metrics);
        Assert.Contains($"Reusing finished run {dir}", log.ToString());

        IdentityFixtures.WriteMl100k(data, keepRows: 250);
        var ex = Assert.Throws<IOException>(() => RunStore.RunOrLoad(Pop(), ctx, dir));
        Assert.Contains("holds a finished run of a different configuration (checksum of u.data: ", ex.Message);

        var replacing = new ExperimentContext { Data = ctx.Data, ResultsRoot = ctx.ResultsRoot, Observer = ctx.Observer, Overwrite = true };
        var again = RunStore.RunOrLoad(Pop(), replacing, dir);
        Assert.Contains($"Training {dir} again: checksum of u.data: ", log.ToString());
        Assert.Equal(RunIdentity.Of(Pop(), ctx).Key, RunStore.StoredKey(dir));
        Assert.Equal(Sha256(Path.Combine(data, "ml-100k", "u.data")), again.Result.DatasetProvenance["sha256"]);
    }

    /// <summary>A NeuMF pre-training run directory is reused only for the same computation: another epoch count trains it again.</summary>
    [Fact]
    public void PretrainingRunsAreReusedOnlyForTheSameComputation()
    {
        string root = Directory.CreateTempSubdirectory("lrml-id").FullName;
        string data = IdentityFixtures.WriteMl100k(Path.Combine(root, "data"));
        var ctx = Context(data, Path.Combine(root, "results"));
        string dir = Path.Combine(root, "gmf");
        RunSpec Gmf(int epochs) => new()
        {
            Dataset = "ml-100k", Model = "gmf", Settings = [new("dim", "4")], SampledNegatives = 20,
            Train = new TrainConfig { Epochs = epochs, Patience = 0, BatchSize = 128, Threads = 1 },
        };
        NcfPretraining.EnsureRun(Gmf(1), ctx, dir);
        Assert.Equal(1, RunResult.Load(Path.Combine(dir, "result.json")).Epochs);
        NcfPretraining.EnsureRun(Gmf(2), ctx, dir);
        Assert.Equal(2, RunResult.Load(Path.Combine(dir, "result.json")).Epochs);
    }

    /// <summary>Case 4: the frozen NCF split follows the contents of ncf/ml-1m.test.rating and .test.negative; a test file
    /// that lost users is refused, also when the cache is fresh.</summary>
    [Fact]
    public void NcfSplitCacheFollowsTheNcfFilesAndRefusesTruncatedOnes()
    {
        string root = Directory.CreateTempSubdirectory("lrml-id").FullName;
        string data = IdentityFixtures.WriteMl1mWithNcf(Path.Combine(root, "data"));
        var ctx = Context(data, Path.Combine(root, "results"));
        var split = Experiment.GetSplit("ml-1m", "ncf", 1, 99, ctx);
        Assert.Equal(IdentityFixtures.Ml1mUsers, split.Test.Count);

        string ncf = Path.Combine(data, "ml-1m", "ncf");
        IdentityFixtures.DropLastLines(Path.Combine(ncf, NcfPublic.TestRatingFile), 5);
        IdentityFixtures.DropLastLines(Path.Combine(ncf, NcfPublic.TestNegativeFile), 5);
        var cached = Assert.Throws<DataFormatException>(() => Experiment.GetSplit("ml-1m", "ncf", 1, 99, ctx));
        Assert.EndsWith(NcfPublic.TestRatingFile, cached.FilePath);
        Assert.Contains("5 of 30 users have no test row", cached.Reason);

        var fresh = Assert.Throws<DataFormatException>(() => Experiment.GetSplit("ml-1m", "ncf", 1, 99, Context(data, Path.Combine(root, "fresh"))));
        Assert.Contains("5 of 30 users have no test row", fresh.Reason);
    }

    /// <summary>Case 4: result.json records the checksums of the NCF files the split was built from.</summary>
    [Fact]
    public void TheRunRecordsTheChecksumsOfTheNcfFiles()
    {
        string root = Directory.CreateTempSubdirectory("lrml-id").FullName;
        string data = IdentityFixtures.WriteMl1mWithNcf(Path.Combine(root, "data"));
        string dir = Path.Combine(root, "run");
        Experiment.Run(new RunSpec { Dataset = "ml-1m", Protocol = "ncf", Model = "pop", Train = new TrainConfig { Threads = 1 } },
            Context(data, Path.Combine(root, "results")), dir);
        var split = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "result.json")))!["split"]!;
        string ncf = Path.Combine(data, "ml-1m", "ncf");
        Assert.Equal(Sha256(Path.Combine(ncf, NcfPublic.TestRatingFile)), (string?)split["ncf.test_rating.sha256"]);
        Assert.Equal(Sha256(Path.Combine(ncf, NcfPublic.TestNegativeFile)), (string?)split["ncf.test_negative.sha256"]);
    }

    /// <summary>A NeuMF sweep pre-trains only from GMF and MLP sweeps of the same data: data of the same shape (the same
    /// number of training pairs) with other contents is refused, naming the file.</summary>
    [Fact]
    public void PretrainingSweepsMustBeOfTheSameData()
    {
        string root = Directory.CreateTempSubdirectory("lrml-id").FullName;
        string data = IdentityFixtures.WriteMl100k(Path.Combine(root, "data"));
        string other = IdentityFixtures.WriteMl100k(Path.Combine(root, "other"), reverseTime: true);
        SweepSpec S(string model, string space) => new()
        {
            Dataset = "ml-100k", Model = model, Space = SearchSpace.Parse([space]), Trials = 1, Seeds = 1, Epochs = 1, SampledNegatives = 20,
            Train = new TrainConfig { BatchSize = 128, Threads = 1 },
        };
        var ctx = Context(data, Path.Combine(root, "results"));
        string gmf = Path.Combine(root, "gmf"), mlp = Path.Combine(root, "mlp");
        Sweep.Run(S("gmf", "dim=4"), ctx, gmf);
        Sweep.Run(S("mlp", "layers=[8,4]"), ctx, mlp);
        var neumf = S("neumf", "optimizer=sgd") with { PretrainFrom = (gmf, mlp) };
        Assert.Equal("ok", Sweep.Run(neumf, ctx, Path.Combine(root, "neumf")).Chosen.Status);

        var ex = Assert.Throws<ArgumentException>(() => Sweep.Run(neumf, Context(other, Path.Combine(root, "results-other")), Path.Combine(root, "neumf-other")));
        Assert.StartsWith($"The gmf sweep '{gmf}' ran on another split or other data than this NeuMF sweep (checksum of u.data: ", ex.Message);
    }

    /// <summary>Case 5: a key both searched (space) and fixed (settings) is an error naming the key; nothing is trained.</summary>
    [Theory]
    [InlineData("dim=64,100", "dim", "10", "'dim' is both searched (dim=64,100) and fixed (dim=10)")]
    [InlineData("negatives_per_positive=1,2", "negatives", "3", "'negatives' is both searched (negatives_per_positive=1,2) and fixed (negatives=3)")]
    public void ASettingThatIsAlsoSearchedIsAnError(string space, string key, string value, string message)
    {
        string root = Directory.CreateTempSubdirectory("lrml-id").FullName;
        string dir = Path.Combine(root, "sweep");
        var spec = new SweepSpec
        {
            Dataset = "synthetic", Model = "bpr", Space = SearchSpace.Parse([space]), Settings = [new(key, value)],
            Trials = 2, Seeds = 1, Epochs = 1, Train = new TrainConfig { BatchSize = 2048, Threads = 1 },
        };
        var ex = Assert.Throws<ArgumentException>(() => Sweep.Run(spec, Context(Path.Combine(root, "no-data"), root), dir));
        Assert.StartsWith(message, ex.Message);
        Assert.False(Directory.Exists(Path.Combine(dir, "trials")), "no trial may run");
    }
}
