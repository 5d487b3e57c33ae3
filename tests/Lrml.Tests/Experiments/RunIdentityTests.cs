using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Experiments.Sweeps;
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

    /// <summary>The per-process dataset memo must not serve the old interactions after the file changed on disk.</summary>
    [Fact]
    public void LoadDatasetSeesAFileChangedOnDisk()
    {
        string root = Directory.CreateTempSubdirectory("lrml-id").FullName;
        string data = IdentityFixtures.WriteMl100k(Path.Combine(root, "data"));
        var ctx = Context(data, Path.Combine(root, "results"));
        Assert.Equal(360, Experiment.LoadDataset("ml-100k", ctx).Count);
        IdentityFixtures.WriteMl100k(data, keepRows: 250);
        Assert.Equal(250, Experiment.LoadDataset("ml-100k", ctx).Count);
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

    /// <summary>Case 5: a key both searched (space) and fixed (settings) is an error naming the key; nothing is trained.</summary>
    [Theory]
    [InlineData("dim=64,100", "dim", "10", "dim")]
    [InlineData("negatives_per_positive=1,2", "negatives", "3", "negatives")]
    public void ASettingThatIsAlsoSearchedIsAnError(string space, string key, string value, string named)
    {
        string root = Directory.CreateTempSubdirectory("lrml-id").FullName;
        string dir = Path.Combine(root, "sweep");
        var spec = new SweepSpec
        {
            Dataset = "synthetic", Model = "bpr", Space = SearchSpace.Parse([space]), Settings = [new(key, value)],
            Trials = 2, Seeds = 1, Epochs = 1, Train = new TrainConfig { BatchSize = 2048, Threads = 1 },
        };
        var ex = Assert.Throws<ArgumentException>(() => Sweep.Run(spec, Context(Path.Combine(root, "no-data"), root), dir));
        Assert.Contains($"'{named}'", ex.Message);
        Assert.Contains("both searched", ex.Message);
        Assert.False(Directory.Exists(Path.Combine(dir, "trials")), "no trial may run");
    }
}
