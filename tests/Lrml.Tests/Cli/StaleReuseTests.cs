using System.Text.Json.Nodes;
using Lrml.Tests.Experiments;

namespace Lrml.Tests.Cli;

/// <summary>
/// Issue 11, cases 1–3, with the real <c>lrml</c> process and real data folders: a sweep folder, a reproduction's finished
/// runs and a training checkpoint are reused only by the same computation — the same data (file checksums) and the same
/// settings — and anything else is refused with a message naming what differs.
/// </summary>
public class StaleReuseTests
{
    private static string Temp() => Directory.CreateTempSubdirectory("lrml-stale").FullName;

    private static string Text(string path) => File.ReadAllText(path);

    /// <summary>Case 1: a sweep folder is one sweep. Re-running it with the same options reuses every trial; other epochs,
    /// another dataset or changed data files are refused (naming the difference) and leave sweep.json and chosen.json alone.</summary>
    [Fact]
    public void ASweepFolderIsReusedOnlyByTheSameSweepOnTheSameData()
    {
        string root = Temp();
        string data = IdentityFixtures.WriteMl100k(Path.Combine(root, "data"));
        string results = Path.Combine(root, "results"), sweep = Path.Combine(root, "S");
        string[] Sweep(string dataset, string epochs) =>
        [
            "--data-dir", data, "--results", results, "--threads", "1", "sweep", "--dataset", dataset, "--model", "bpr",
            "--space", "dim=4,8", "--trials", "2", "--seeds", "1", "--epochs", epochs, "--sampled-negatives", "20", "--out", sweep,
        ];

        var (code, output) = LrmlProcess.Run(Sweep("ml-100k", "1"));
        Assert.True(code == 0, output);
        string chosen = Text(Path.Combine(sweep, "chosen.json")), spec = Text(Path.Combine(sweep, "sweep.json"));
        var firstTrial = Directory.GetDirectories(Path.Combine(sweep, "trials")).Order().First();
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(firstTrial, "result.json"));

        (code, output) = LrmlProcess.Run(Sweep("ml-100k", "1"));                 // the same sweep: nothing trained again
        Assert.True(code == 0, output);
        Assert.Contains("2 already finished", output);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(firstTrial, "result.json")));

        (code, output) = LrmlProcess.Run(Sweep("ml-100k", "3"));
        Assert.Equal(1, code);
        Assert.Contains("holds a different sweep", output);
        Assert.Contains("epochs: 1 (stored) vs 3 (now)", output);

        (code, output) = LrmlProcess.Run(Sweep("synthetic", "1"));
        Assert.Equal(1, code);
        Assert.Contains("dataset: ml-100k (stored) vs synthetic (now)", output);

        IdentityFixtures.WriteMl100k(data, keepRows: 250);                      // the data changed on disk
        (code, output) = LrmlProcess.Run(Sweep("ml-100k", "1"));
        Assert.Equal(1, code);
        Assert.Contains("checksum of u.data", output);

        Assert.Equal(chosen, Text(Path.Combine(sweep, "chosen.json")));
        Assert.Equal(spec, Text(Path.Combine(sweep, "sweep.json")));
        Assert.Equal("ml-100k", (string?)JsonNode.Parse(chosen)!["dataset"]);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(firstTrial, "result.json")));
    }

    /// <summary>Case 2: `reproduce` reuses a finished run only for data with the same checksums (an identical copy in
    /// another folder is reused); a truncated u.data is refused, naming the file, and the finished run is kept.</summary>
    [Fact]
    public void ReproduceReusesAFinishedRunOnlyForTheSameData()
    {
        string root = Temp();
        string clean = IdentityFixtures.WriteMl100k(Path.Combine(root, "clean"));
        string copy = IdentityFixtures.CopyMl100k(clean, Path.Combine(root, "copy"));
        string truncated = IdentityFixtures.WriteMl100k(Path.Combine(root, "truncated"), keepRows: 250);
        string results = Path.Combine(root, "results");
        string[] Reproduce(string dataDir) =>
            ["--data-dir", dataDir, "--results", results, "--threads", "1", "reproduce", "main-table", "--models", "pop", "--datasets", "ml-100k", "--seeds", "1"];
        string result = Path.Combine(results, "reproduce", "main-table", "quick", "runs", "ml-100k", "pop-seed1", "result.json");
        var noPng = new Dictionary<string, string> { ["LRML_CHROMIUM"] = Path.Combine(root, "no-browser") };   // charts as HTML only: faster

        var (code, output) = LrmlProcess.Run(Reproduce(clean), noPng);
        Assert.True(code == 0, output);
        string finished = Text(result);

        (code, output) = LrmlProcess.Run(Reproduce(truncated), noPng);
        Assert.Equal(1, code);
        Assert.DoesNotContain("Reusing finished run", output);
        Assert.Contains("holds a finished run of a different configuration", output);
        Assert.Contains("checksum of u.data", output);
        Assert.Equal(finished, Text(result));

        (code, output) = LrmlProcess.Run(Reproduce(copy), noPng);
        Assert.True(code == 0, output);
        Assert.Contains("Reusing finished run", output);
        Assert.Equal(finished, Text(result));
    }

    /// <summary>Case 3: `train --resume` continues a checkpoint only on the data it was trained on: other data of the same
    /// shape (same users and items, other held-out items) is refused, naming u.data; the right data resumes.</summary>
    [Fact]
    public void ResumeRefusesACheckpointTrainedOnOtherData()
    {
        string root = Temp();
        string data = IdentityFixtures.WriteMl100k(Path.Combine(root, "data"));
        string other = IdentityFixtures.WriteMl100k(Path.Combine(root, "other"), reverseTime: true);
        string results = Path.Combine(root, "results"), run = Path.Combine(root, "run");
        string[] Train(string dataDir, params string[] extra) =>
        [
            "--data-dir", dataDir, "--results", results, "--threads", "1", "train", "--dataset", "ml-100k", "--model", "bpr",
            "--set", "dim=4", "--epochs", "2", "--sampled-negatives", "20", "--no-full-ranking", "--out", run, .. extra,
        ];

        var (code, output) = LrmlProcess.Run(Train(data, "--keep-checkpoints"));
        Assert.True(code == 0, output);
        Assert.True(File.Exists(Path.Combine(run, "checkpoint.ckpt")));
        File.Delete(Path.Combine(run, "result.json"));                         // as if killed after its last checkpoint

        (code, output) = LrmlProcess.Run(Train(other, "--resume"));
        Assert.Equal(1, code);
        Assert.Contains("belongs to a different configuration", output);
        Assert.Contains("checksum of u.data", output);
        Assert.False(File.Exists(Path.Combine(run, "result.json")));

        (code, output) = LrmlProcess.Run(Train(data, "--resume"));
        Assert.True(code == 0, output);
        Assert.Contains("Resuming from epoch", output);
    }
}
