using System.Text.Json.Nodes;
using Lrml.Experiments;
using Lrml.Reproduction.Sweeps;
using Lrml.Training;
using Lrml.Util;

namespace Lrml.Tests.Robustness;

/// <summary>
/// Resource faults while writing results: a full disk (a real tiny tmpfs, and an injected ENOSPC stream that needs no
/// root) and a permission error (the immutable attribute, which stops even root). Each gives one clear message naming
/// the file, keeps the previous content, and leaves no temporary file.
/// </summary>
public class ResourceFaultTests
{
    private static void AssertCleanWriteError(IOException e, string path, string cause)
    {
        Assert.Contains(Path.GetFullPath(path), e.Message);
        Assert.Contains(cause, e.Message);
        Assert.Contains("previous file, if any, is unchanged", e.Message);
        Assert.DoesNotContain(AtomicFile.TempSuffix, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void DiskFullOnARealFileSystemKeepsThePreviousResult()
    {
        using var disk = OsFaults.TinyDiskOrSkip(64);
        string path = Path.Combine(disk.Path, "result.json");
        AtomicFile.WriteAllText(path, "{\"previous\": true}\n");
        var e = Assert.Throws<IOException>(() => AtomicFile.WriteAllText(path, new string('x', 200_000)));
        AssertCleanWriteError(e, path, "disk is full");
        Assert.Equal("{\"previous\": true}\n", File.ReadAllText(path));
        Assert.Empty(OsFaults.TempFiles(disk.Path));
    }

    [Fact]
    public void DiskFullInjectedMidWriteKeepsThePreviousCheckpoint()
    {
        string dir = Directory.CreateTempSubdirectory("lrml-enospc").FullName;
        string path = Path.Combine(dir, Experiment.CheckpointFile);
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        using (AtomicFile.WrapTempStreams(s => new FullDiskStream(s, capacity: 1000)))
        {
            var e = Assert.Throws<IOException>(() => AtomicFile.WriteAllBytes(path, new byte[5000]));
            AssertCleanWriteError(e, path, "disk is full");
        }
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Empty(OsFaults.TempFiles(dir));
        AtomicFile.WriteAllBytes(path, [4]);                      // the seam is scoped: writes work again
        Assert.Equal([4], File.ReadAllBytes(path));
    }

    [Fact]
    public void PermissionDeniedOnAProtectedDirectoryKeepsThePreviousResult()
    {
        string dir = Directory.CreateTempSubdirectory("lrml-perm").FullName;
        string path = Path.Combine(dir, "result.json");
        File.WriteAllText(path, "old");
        using (OsFaults.ImmutableOrSkip(dir))
        {
            var e = Assert.Throws<IOException>(() => new RunResultStub().Save(path));
            AssertCleanWriteError(e, path, "permission denied");
            Assert.Equal("old", File.ReadAllText(path));
        }
        Assert.Empty(OsFaults.TempFiles(dir));
    }

    [Fact]
    public void AResultUnderAFileInsteadOfAFolderIsAClearError()
    {
        string dir = Directory.CreateTempSubdirectory("lrml-notdir").FullName;
        File.WriteAllText(Path.Combine(dir, "runs"), "a file where a folder should be");
        string path = Path.Combine(dir, "runs", "x", "result.json");
        var e = Assert.Throws<IOException>(() => AtomicFile.WriteAllText(path, "{}"));
        Assert.StartsWith($"Could not write '{path}'", e.Message);
        Assert.Empty(OsFaults.TempFiles(dir));
    }

    /// <summary>A minimal result record (the real writer, RunResult.Save).</summary>
    private sealed class RunResultStub
    {
        public void Save(string path) => new RunResult
        {
            Dataset = "d", Protocol = "p", Model = "m", Config = new JsonObject(), Seed = 1, Metrics = new(), TrainSeconds = 0, Epochs = 0, Commit = "c",
        }.Save(path);
    }

    /// <summary>trials.csv cannot be replaced (immutable): the sweep stops with a message naming it, trials.csv keeps the
    /// finished trials, trials.json already holds the new one, and once the file is writable again the sweep resumes
    /// without re-running anything.</summary>
    [Fact]
    public void ASweepThatCannotWriteTrialsCsvStopsCleanlyAndResumes()
    {
        string root = Directory.CreateTempSubdirectory("lrml-sweep-fault").FullName;
        string dir = Path.Combine(root, "sweep");
        var spec = new SweepSpec
        {
            Dataset = "synthetic", Model = "bpr", Space = SearchSpace.Parse(["dim=4,8"]), Trials = 1, Seeds = 1, Epochs = 1,
            Train = new TrainConfig { BatchSize = 4096, Threads = 1 },
        };
        var ctx = new ExperimentContext { Data = new Lrml.Data.DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root };
        Sweep.Run(spec, ctx, dir);
        string csv = Path.Combine(dir, "trials.csv");
        var before = File.ReadAllText(csv);
        using (OsFaults.ImmutableOrSkip(csv))
        {
            var e = Assert.Throws<IOException>(() => Sweep.Run(spec with { Trials = 2 }, ctx, dir));
            AssertCleanWriteError(e, csv, "permission denied");
            Assert.Equal(before, File.ReadAllText(csv));
        }
        Assert.Empty(OsFaults.TempFiles(dir));
        Dictionary<string, DateTime> Stamps() => Directory.GetFiles(Path.Combine(dir, "trials"), "result.json", SearchOption.AllDirectories)
            .ToDictionary(f => f, File.GetLastWriteTimeUtc);
        var stamps = Stamps();
        Assert.Equal(2, stamps.Count);                           // both trials finished before trials.csv failed
        var resumed = Sweep.Run(spec with { Trials = 2 }, ctx, dir);
        Assert.Equal(2, resumed.Trials.Count);
        Assert.Equal(3, File.ReadAllLines(csv).Length);
        Assert.Equal(stamps, Stamps());                          // nothing was re-run
    }

    private static string[] TrainArgs(string outDir, params string[] extra) =>
    [
        "train", "--dataset", "synthetic", "--model", "lrml", "--engine", "torch", "--epochs", "4", "--seed", "4",
        "--set", "dim=16", "--set", "slots=4", "--batch-size", "256", "--no-full-ranking", "--out", outDir, .. extra,
    ];

    /// <summary>End to end: the run directory is on a tiny disk that fills up at the second epoch's checkpoint. `lrml train`
    /// prints one error line naming the checkpoint and the full disk, exits 1, and leaves the epoch-1 checkpoint intact
    /// and no temporary file; after space is freed, `--resume` finishes with exactly the metrics of an uninterrupted run.</summary>
    [Fact]
    public void DiskFullMidRunKeepsTheLastCheckpointAndResumeFinishesTheRun()
    {
        string root = Directory.CreateTempSubdirectory("lrml-full").FullName;
        var (code, o, err) = CliRunner.Run(root, TrainArgs(Path.Combine(root, "reference"), "--keep-checkpoints"));   // to size the disk
        Assert.True(code == 0, o + err);
        string reference = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "reference", "result.json")))!["metrics"]!.ToJsonString();
        long ckBytes = new FileInfo(Path.Combine(root, "reference", Experiment.CheckpointFile)).Length;
        long bestBytes = new FileInfo(Path.Combine(root, "reference", "best.ckpt")).Length;

        // room for epoch 1 (best + checkpoint + small files) but not for a second copy of both during epoch 2's writes
        int kib = (int)((bestBytes + ckBytes) / 1024 + ckBytes / 2048 + 64);
        using var disk = OsFaults.TinyDiskOrSkip(kib);
        string run = Path.Combine(disk.Path, "run");
        (code, o, err) = CliRunner.Run(root, TrainArgs(run));
        Assert.Equal(1, code);
        string error = CliRunner.SingleErrorLine(o, err);
        Assert.Matches(@"^error: Could not write '.*(checkpoint|best)\.ckpt': the disk is full", error);
        Assert.Empty(OsFaults.TempFiles(disk.Path));
        Assert.False(File.Exists(Path.Combine(run, "result.json")));
        string ckPath = Path.Combine(run, Experiment.CheckpointFile);
        var ck = TrainerCheckpoint.FromBytes(File.ReadAllBytes(ckPath), ckPath);        // intact and readable
        Assert.Equal(2, ck.Epoch);
        Assert.Equal(0, ck.Step);

        disk.Resize(kib * 8);
        (code, o, err) = CliRunner.Run(root, TrainArgs(run, "--resume"));
        Assert.True(code == 0, o + err);
        Assert.Contains("Resuming from epoch 2", o);
        Assert.Equal(reference, JsonNode.Parse(File.ReadAllText(Path.Combine(run, "result.json")))!["metrics"]!.ToJsonString());
    }

    /// <summary>End to end: the run directory cannot be written (immutable): one error line naming config.json and the
    /// permission problem, exit code 1, nothing left behind.</summary>
    [Fact]
    public void PermissionDeniedOnTheRunDirectoryIsOneErrorLine()
    {
        string root = Directory.CreateTempSubdirectory("lrml-perm-cli").FullName;
        string run = Directory.CreateDirectory(Path.Combine(root, "run")).FullName;
        using (OsFaults.ImmutableOrSkip(run))
        {
            var (code, o, err) = CliRunner.Run(root, TrainArgs(run));
            Assert.Equal(1, code);
            string error = CliRunner.SingleErrorLine(o, err);
            Assert.StartsWith($"error: Could not write '{Path.Combine(run, "config.json")}': permission denied", error);
        }
        Assert.Empty(Directory.GetFileSystemEntries(run));
    }
}
