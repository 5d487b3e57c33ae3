using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Lrml.Tests.Robustness;

namespace Lrml.Tests.Cli;

/// <summary>
/// Issue 16 §2 with the real <c>lrml</c> process: a data file of one's own works in <c>data stats</c> and <c>train</c> like
/// a named dataset (its SHA-256 in result.json), and a wrong format, a missing file, a malformed line or a bad JSON dataset
/// file is one error line naming the option, the file and key, or the file and line — exit code 2.
/// </summary>
public sealed class OwnDataCommandLineTests
{
    /// <summary>12 users × 6 distinct items of 20 ("u0".."u11", "m0".."m19"), ratings 1–5, increasing timestamps, a header.</summary>
    private static string WriteCsv(string dir, string name)
    {
        var sb = new StringBuilder("user,item,rating,timestamp\n");
        for (int u = 0; u < 12; u++)
            for (int k = 0; k < 6; k++) sb.Append(CultureInfo.InvariantCulture, $"u{u},m{(u * 5 + k * 7) % 20},{1 + (u + k) % 5},{1000 + u * 10 + k}\n");
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    [Fact]
    public void DataStatsAndTrainReadTheFileAndRecordItsChecksum()
    {
        string root = Directory.CreateTempSubdirectory("lrml-own").FullName;
        string csv = WriteCsv(root, "clicks.csv");
        string[] format = ["--sep", ",", "--header", "--columns", "user,item,rating,timestamp"];

        var (code, stdout, stderr) = CliRunner.Run(root, ["data", "stats", csv, .. format, "--markdown"]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("| users | 12 |", stdout);
        Assert.Contains("| items | 20 |", stdout);
        Assert.Contains("| interactions | 72 |", stdout);

        string run = Path.Combine(root, "run");
        (code, stdout, stderr) = CliRunner.Run(root, ["train", "--dataset", csv, .. format, "-m", "bpr", "--epochs", "2", "--dim", "4",
            "--sampled-negatives", "5", "--no-full-ranking", "--out", run]);
        Assert.True(code == 0, stdout + stderr);
        var result = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "result.json")))!;
        Assert.Equal("clicks", (string?)result["dataset"]);
        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(csv)));
        Assert.Equal(sha, (string?)result["dataset_provenance"]!["sha256"]);
        Assert.Equal(csv, (string?)result["dataset_provenance"]!["file"]);
        Assert.Equal("48", (string?)result["split"]!["train_pairs"]);          // leave-last-out: 72 − 12 validation − 12 test
        // the frozen split is cached under the dataset's name, keyed by its identity
        Assert.Single(Directory.GetDirectories(Path.Combine(root, "splits"), "clicks-leave-last-out-*"));
    }

    [Fact]
    public void BadFormatsFilesAndLinesAreOneErrorLineWithExitCode2()
    {
        string root = Directory.CreateTempSubdirectory("lrml-own-bad").FullName;
        string csv = WriteCsv(root, "r.csv");
        File.WriteAllText(Path.Combine(root, "broken.csv"), "u1,m1,5\nu2,m2\n");
        File.WriteAllText(Path.Combine(root, "typo.json"), "{\"file\": \"r.csv\", \"header\": true, \"columns\": [\"user\", \"item\", \"rating\", \"timestamp\"], \"threshold\": 4}");
        var cases = new (string[] Args, string Error)[]
        {
            (["data", "stats", csv, "--header", "--columns", "user,item,stars,timestamp"], "error: --columns: unknown column role \"stars\" (column 3)"),
            (["data", "stats", Path.Combine(root, "missing.csv"), "--columns", "user,item"], $"error: --dataset: no such file: {Path.Combine(root, "missing.csv")}"),
            (["split", Path.Combine(root, "broken.csv"), "--columns", "user,item,rating"], $"error: {Path.Combine(root, "broken.csv")}:2: wrong field count: expected 3 fields"),
            (["train", "--dataset", Path.Combine(root, "typo.json"), "--epochs", "1"], $"error: {Path.Combine(root, "typo.json")}: unknown key \"threshold\""),
            (["train", "--dataset", "ml-100k", "--sep", ";"], "error: --sep applies to a data file of your own, but 'ml-100k' is a built-in dataset"),
            (["sweep", "--dataset", "nonesuch", "--model", "pop"], "error: Unknown dataset 'nonesuch'."),
        };
        foreach (var (args, error) in cases)
        {
            var (code, stdout, stderr) = CliRunner.Run(root, args);
            Assert.True(code == 2, $"lrml {string.Join(' ', args)} → {code}: {stdout}{stderr}");
            Assert.StartsWith(error, CliRunner.SingleErrorLine(stdout, stderr));
        }
        Assert.False(Directory.Exists(Path.Combine(root, "runs")), "a refused command created a run folder");
    }
}
