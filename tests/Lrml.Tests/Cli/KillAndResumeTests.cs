using System.Diagnostics;
using System.Text.Json.Nodes;
using Lrml.Training;

namespace Lrml.Tests.Cli;

/// <summary>
/// A real crash: the lrml process is killed (SIGKILL) in the middle of an epoch, then `train --resume`
/// finishes the run. The resumed run must end with exactly the metrics of an uninterrupted run with the same
/// seed (1 thread on CPU: bit-exact).
/// </summary>
public class KillAndResumeTests
{
    private string _engine = "torch", _epochs = "6";

    private string[] TrainArgs(string results, string outDir, params string[] extra) =>
    [
        "--data-dir", Path.Combine(results, "no-data"), "--results", results, "--threads", "1",
        "train", "--dataset", "synthetic", "--model", "lrml", "--engine", _engine, "--epochs", _epochs, "--seed", "4",
        "--set", "dim=16", "--set", "slots=4", "--batch-size", "256", "--no-full-ranking", "--out", outDir, .. extra,
    ];

    private static Process Start(string[] args) => LrmlProcess.Start(args);

    private static (int Code, string Output) RunToEnd(string[] args) => LrmlProcess.Run(args);

    /// <summary>The fused engine trains the synthetic set in milliseconds per epoch, so it gets more epochs: the kill
    /// must land while the run is still going.</summary>
    [Theory]
    [InlineData("torch", "6")]
    [InlineData("fused", "300")]
    public void KilledMidEpochThenResumedEndsWithTheUninterruptedMetrics(string engine, string epochs)
    {
        _engine = engine; _epochs = epochs;
        string root = Directory.CreateTempSubdirectory("lrml-kill").FullName;

        var (code, output) = RunToEnd(TrainArgs(root, Path.Combine(root, "reference")));
        Assert.True(code == 0, output);
        var reference = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "reference", "result.json")))!["metrics"]!.ToJsonString();

        string crashed = Path.Combine(root, "crashed");
        string ckptPath = Path.Combine(crashed, "checkpoint.ckpt");
        using (var p = Start(TrainArgs(root, crashed, "--checkpoint-every", "4")))
        {
            p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            var sw = Stopwatch.StartNew();
            TrainerCheckpoint? seen = null;
            while (sw.Elapsed < TimeSpan.FromMinutes(3) && !p.HasExited)
            {
                if (File.Exists(ckptPath))
                {
                    try
                    {
                        var ck = TrainerCheckpoint.FromBytes(File.ReadAllBytes(ckptPath), ckptPath);
                        if (ck.Epoch >= 2 && ck.Step > 0) { seen = ck; break; }
                    }
                    catch (IOException) { }
                }
                Thread.Sleep(10);
            }
            Assert.False(p.HasExited, "the run finished before a mid-epoch checkpoint was seen; nothing was killed");
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            Assert.NotNull(seen);
        }
        Assert.False(File.Exists(Path.Combine(crashed, "result.json")), "a killed run must not leave a result");
        var killedAt = TrainerCheckpoint.FromBytes(File.ReadAllBytes(ckptPath), ckptPath);
        Assert.True(killedAt.Step > 0 || killedAt.Epoch >= 2);

        (code, output) = RunToEnd(TrainArgs(root, crashed, "--checkpoint-every", "4", "--resume", "--keep-checkpoints"));   // kept for the check below
        Assert.True(code == 0, output);
        Assert.Contains("Resuming from epoch", output);
        var resumed = JsonNode.Parse(File.ReadAllText(Path.Combine(crashed, "result.json")))!["metrics"]!.ToJsonString();
        Assert.Equal(reference, resumed);

        // resuming with different options is refused with a clear message
        (code, output) = RunToEnd([.. TrainArgs(root, crashed, "--resume").Select(a => a == "dim=16" ? "dim=8" : a)]);
        Assert.Equal(1, code);
        Assert.Contains("different configuration", output);
    }
}
