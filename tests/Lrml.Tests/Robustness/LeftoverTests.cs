using Lrml.Experiments;
using Lrml.Util;

namespace Lrml.Tests.Robustness;

/// <summary>
/// Leftovers (issue 11, case 11): a bad argument creates nothing; a run killed before its first checkpoint can be started
/// again as the resume message advises; a temporary file left by a SIGKILL in the middle of a checkpoint write is deleted by
/// the next start.
/// </summary>
public class LeftoverTests
{
    private static string[] Train(string outDir, string epochs = "1", string batchSize = "512", string checkpointEvery = "0", string dim = "8") =>
    [
        "train", "--dataset", "synthetic", "--model", "bpr", "--set", $"dim={dim}", "--epochs", epochs, "--seed", "4", "--batch-size", batchSize,
        "--checkpoint-every", checkpointEvery, "--no-full-ranking", "--out", outDir,
    ];

    [Fact]
    public void ABadArgumentCreatesNothingAndTheCorrectedCommandRuns()
    {
        string root = Directory.CreateTempSubdirectory("lrml-badargs").FullName;
        string parent = Path.Combine(root, "out"), run = Path.Combine(parent, "run");
        string[] common = ["--data-dir", Path.Combine(root, "no-data"), "--results", root];
        string[][] bad =
        [
            [.. common, "--threads", "0", .. Train(run)],
            [.. common, .. Train(run, epochs: "0")],
            [.. common, .. Train(run, batchSize: "0")],
            [.. common, .. Train(run, checkpointEvery: "-1")],
            [.. common, .. Train(run, dim: "0")],
        ];
        foreach (var args in bad)
        {
            using var p = CliProcess.StartRaw(args);
            int usage = args.Contains("dim=0") ? 2 : 1;   // a bad model setting is refused at the edge with exit code 2 (issue 12)
            Assert.True(p.Wait() == usage, p.Output);
            CliRunner.SingleErrorLine(p.Stdout, p.Stderr);
            Assert.False(Directory.Exists(parent), $"lrml {string.Join(' ', args)} created {parent}");
        }
        using (var sweep = CliProcess.StartRaw([.. common, "--threads", "0", "sweep", "--dataset", "synthetic", "--model", "bpr", "--name", "s"]))
        {
            Assert.True(sweep.Wait() == 1, sweep.Output);
            Assert.Contains("Threads must be ≥ 1", CliRunner.SingleErrorLine(sweep.Stdout, sweep.Stderr));
            Assert.False(Directory.Exists(Path.Combine(root, "sweeps")), "a sweep with a bad argument created its folder");
        }

        var (code, o, e) = CliRunner.Run(root, Train(run));
        Assert.True(code == 0, o + e);
        Assert.True(File.Exists(Path.Combine(run, "result.json")));
    }

    /// <summary>SIGKILL right after the run wrote config.json, long before the first checkpoint (end of epoch 1): `--resume`
    /// explains there is nothing to resume and to start again without it, and that command works.</summary>
    [Fact]
    public void ARunKilledBeforeItsFirstCheckpointStartsAgainAsAdvised()
    {
        string root = Directory.CreateTempSubdirectory("lrml-early-kill").FullName;
        string run = Path.Combine(root, "run");
        string[] args = ["train", "--dataset", "synthetic", "--model", "lrml", "--engine", "torch", "--set", "dim=16", "--set", "slots=4", "--epochs", "1",
            "--seed", "4", "--batch-size", "256", "--no-full-ranking", "--out", run];
        using (var p = CliProcess.Start(root, args))
        {
            Assert.True(p.WaitUntil(() => File.Exists(Path.Combine(run, "config.json"))), p.Output);
            p.KillHard();
        }
        Assert.False(File.Exists(Path.Combine(run, Experiment.CheckpointFile)), "the kill came after the first checkpoint: nothing was tested");

        var (code, o, e) = CliRunner.Run(root, [.. args, "--resume"]);
        Assert.Equal(1, code);
        string error = CliRunner.SingleErrorLine(o, e);
        Assert.Equal($"error: No checkpoint to resume in '{run}': the run stopped before its first checkpoint. " +
                     "Start it again without --resume (the interrupted run there is replaced).", error);

        (code, o, e) = CliRunner.Run(root, args);
        Assert.True(code == 0, o + e);
        Assert.Contains($"Starting again in '{run}': the run there stopped before its first checkpoint, so there was nothing to resume", o);
        Assert.True(File.Exists(Path.Combine(run, "result.json")));
    }

    /// <summary>SIGKILL while a checkpoint is being written (a checkpoint every batch, so one is nearly always in flight) leaves
    /// its temporary file; `--resume` deletes it and finishes the run.</summary>
    [Fact]
    public void ATempFileLeftByAKillDuringACheckpointWriteIsDeletedByTheNextStart()
    {
        string root = Directory.CreateTempSubdirectory("lrml-tmp-kill").FullName;
        string run = Path.Combine(root, "run");
        string ckpt = Path.Combine(run, Experiment.CheckpointFile);
        string[] args = ["train", "--dataset", "synthetic", "--model", "lrml", "--engine", "fused", "--set", "dim=128", "--set", "slots=10", "--epochs", "3",
            "--seed", "4", "--batch-size", "256", "--no-full-ranking", "--out", run];
        string[] CheckpointTemps() => Directory.Exists(run) ? Directory.GetFiles(run, "." + Experiment.CheckpointFile + ".*" + AtomicFile.TempSuffix) : [];
        for (int attempt = 0; attempt < 5 && CheckpointTemps().Length == 0; attempt++)
        {
            using var p = CliProcess.Start(root, [.. args, "--checkpoint-every", "1", .. File.Exists(ckpt) ? new[] { "--resume" } : []]);
            Assert.True(p.WaitUntil(() => File.Exists(ckpt) && CheckpointTemps().Length > 0), p.Output);
            p.KillHard();
        }
        Assert.NotEmpty(CheckpointTemps());                     // the kill landed inside a checkpoint write
        Assert.False(File.Exists(Path.Combine(run, "result.json")));

        // the next start deletes the leftover first; started without --resume, it then refuses to replace a resumable run
        var (code, o, e) = CliRunner.Run(root, args);
        Assert.Equal(1, code);
        Assert.Equal($"error: The run directory '{run}' holds an interrupted run with a checkpoint. Pass --resume with the options of that run " +
                     "to continue it, --overwrite to replace it, or choose another --out.", CliRunner.SingleErrorLine(o, e));
        Assert.Matches($@"Deleted 1 temporary file\(s\) \([\d.]+ MB\) left in '{System.Text.RegularExpressions.Regex.Escape(run)}' by an interrupted write", o);
        Assert.Empty(CheckpointTemps());

        (code, o, e) = CliRunner.Run(root, [.. args, "--resume"]);
        Assert.True(code == 0, o + e);
        Assert.Contains("Resuming from epoch", o);
        Assert.True(File.Exists(Path.Combine(run, "result.json")));
        Assert.Empty(OsFaults.TempFiles(root));
    }
}
