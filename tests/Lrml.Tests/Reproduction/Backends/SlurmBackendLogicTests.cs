using System.Globalization;
using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction.Backends;
using Lrml.Reproduction;
using Lrml.Reproduction.Sweeps;
using Lrml.Training;

namespace Lrml.Tests.Reproduction.Backends;

/// <summary>
/// A scheduler inside the test process, for the backend's logic without a cluster (the real one is in
/// <see cref="Lrml.Tests.Cli.SlurmBackendTests"/>). Submit records the call and queues the array tasks; the first look at
/// the queue shows them pending, the next one runs each task exactly as a node would — the job folder's spec file through
/// <see cref="RunSpecFile.Load"/> and <see cref="RunStore.RunOrLoad"/> — unless <see cref="Fails"/> says the attempt ends
/// without a result (the task is then CANCELLED, with a Slurm-like line in its log).
/// </summary>
internal sealed class InProcessSlurm(ExperimentContext context) : ISlurmClient
{
    public readonly List<(string Script, string? Array, string JobId)> Submissions = new();
    private readonly List<(string JobId, string JobDir, int Task, int Looks)> _queue = new();
    private readonly Dictionary<string, int> _attempts = new();
    private int _next = 100;

    /// <summary>(run directory, attempt 1, 2, …) → whether that attempt ends without a result.</summary>
    public Func<string, int, bool> Fails { get; set; } = (_, _) => false;

    /// <summary>Keep every task queued (a busy cluster).</summary>
    public bool Hold { get; set; }

    public string Submit(string script, string? array = null)
    {
        string id = (_next++).ToString(CultureInfo.InvariantCulture);
        string jobDir = Path.GetDirectoryName(script)!;
        int count = Directory.GetFiles(Path.Combine(jobDir, "specs"), "*.json").Length;
        var tasks = array is null ? Enumerable.Range(0, count) : ParseArray(array);
        foreach (int t in tasks) _queue.Add((id, jobDir, t, 0));
        Submissions.Add((script, array, id));
        return id;
    }

    /// <summary>Looks at a non-empty queue that fail (squeue errors) before the queue answers again.</summary>
    public int BrokenLooks { get; set; }

    public IReadOnlyList<QueuedTask> Queue()
    {
        if (_queue.Count > 0 && BrokenLooks > 0)
        {
            BrokenLooks--;
            throw new IOException("squeue failed (exit 1): slurm_load_jobs error: Socket timed out on send/recv operation");
        }
        if (!Hold)
            for (int k = _queue.Count - 1; k >= 0; k--)
            {
                var (job, dir, task, looks) = _queue[k];
                if (looks == 0) { _queue[k] = (job, dir, task, 1); continue; }
                _queue.RemoveAt(k);
                var file = RunSpecFile.Load(Path.Combine(dir, "specs", $"{task}.json"));
                int attempt = _attempts[file.RunDirectory] = _attempts.GetValueOrDefault(file.RunDirectory) + 1;
                string log = Path.Combine(dir, "logs", $"{job}_{task}.out");
                if (Fails(file.RunDirectory, attempt))
                {
                    File.WriteAllText(log, $"lrml: task {job}_{task} on node1, start 1\nslurmstepd: error: *** JOB {job} ON node1 CANCELLED ***\n");
                    continue;
                }
                File.WriteAllText(log, $"lrml: task {job}_{task} on node1, start 1\n");
                var ctx = new ExperimentContext { Data = context.Data, ResultsRoot = context.ResultsRoot, Overwrite = file.Overwrite };
                RunStore.RunOrLoad(file.Spec, ctx, file.RunDirectory);
            }
        return _queue.Select(q => new QueuedTask(q.JobId, q.Task, q.Looks == 0 ? "PENDING" : "RUNNING", "")).ToList();
    }

    public string? FinalState(string jobId, int task) => "CANCELLED";

    public int Attempts(string runDir) => _attempts.GetValueOrDefault(runDir);

    private static IEnumerable<int> ParseArray(string array)
    {
        foreach (var part in array.Split('%')[0].Split(','))
        {
            var ends = part.Split('-').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            for (int i = ends[0]; i <= ends[^1]; i++) yield return i;
        }
    }
}

/// <summary>The Slurm backend's decisions — what is submitted, resubmitted, waited for, reported missing — with
/// <see cref="InProcessSlurm"/> in place of the cluster.</summary>
[Collection("Torch models")]
public class SlurmBackendLogicTests
{
    private static ExperimentContext Context(string root) => new() { Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root };

    private static SlurmSettings Settings(StringWriter output) => new()
    {
        Command = ["lrml"], Time = TimeSpan.FromMinutes(20), PollSeconds = 0.01, SkipSharedFileSystemCheck = true, Output = output,
    };

    /// <summary>Popularity runs (no training: milliseconds each) with different seeds, hence different keys.</summary>
    private static List<PlannedRun> Runs(string root, int n) => Enumerable.Range(1, n).Select(s => new PlannedRun(new RunSpec
    {
        Dataset = "synthetic", Model = "pop", Train = new TrainConfig { Seed = s, Threads = 1 }, FullRanking = false,
    }, Path.Combine(root, "runs", $"pop-seed{s}"))).ToList();

    [Fact]
    public void OnlyTheRunsWhoseTasksEndedWithoutAResultAreResubmitted()
    {
        string root = Directory.CreateTempSubdirectory("lrml-slurm-logic").FullName;
        var ctx = Context(root);
        var slurm = new InProcessSlurm(ctx) { Fails = (dir, attempt) => attempt == 1 && (dir.EndsWith("seed2") || dir.EndsWith("seed4")) };
        var output = new StringWriter();
        var runs = Runs(root, 5);
        var ended = new List<string>();
        var result = new SlurmBackend(Settings(output), slurm).Run(runs, ctx, Path.Combine(root, "exp"), "test", r => ended.Add(r.Planned.Directory));

        Assert.All(result, r => Assert.Equal(RunState.Finished, r.State));
        Assert.Equal(runs.Select(r => r.Directory).Order(), ended.Order());                        // each run reported once
        Assert.Equal(2, slurm.Submissions.Count);
        Assert.Null(slurm.Submissions[0].Array);                                                   // the script's own --array=0-4
        Assert.Contains("#SBATCH --array=0-4\n", File.ReadAllText(slurm.Submissions[0].Script));
        Assert.Equal("1,3", slurm.Submissions[1].Array);                                           // only seed 2 and seed 4
        Assert.Equal(slurm.Submissions[0].Script, slurm.Submissions[1].Script);                    // the same script and spec files
        Assert.Equal([1, 2, 1, 2, 1], runs.Select(r => slurm.Attempts(r.Directory)).ToArray());
        string said = output.ToString();
        Assert.Contains($"Task {slurm.Submissions[0].JobId}_1 (pop-seed2) ended without a result: Slurm state CANCELLED; log ", said);
        Assert.Contains($"Resubmitted as task {slurm.Submissions[1].JobId}_1 (attempt 2)", said);
        var submissions = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "exp", "slurm", SlurmBackend.SubmissionsFile)))!.AsArray();
        Assert.Equal(2, submissions.Count);
        Assert.Equal("[1,3]", submissions[1]!["tasks"]!.ToJsonString());
    }

    [Fact]
    public void FailedLooksAtTheQueueAreToleratedWhileWaitingUpToALimit()
    {
        string root = Directory.CreateTempSubdirectory("lrml-slurm-logic").FullName;
        var ctx = Context(root);
        var output = new StringWriter();
        var slurm = new InProcessSlurm(ctx) { BrokenLooks = SlurmBackend.MaxQueueFailures };
        var result = new SlurmBackend(Settings(output), slurm).Run(Runs(root, 2), ctx, Path.Combine(root, "exp"), "test");
        Assert.All(result, r => Assert.Equal(RunState.Finished, r.State));
        Assert.Contains($"squeue failed (exit 1): slurm_load_jobs error: Socket timed out on send/recv operation (look {SlurmBackend.MaxQueueFailures} of " +
                        $"{SlurmBackend.MaxQueueFailures}; trying again in 0 s)", output.ToString());

        var broken = new InProcessSlurm(ctx) { BrokenLooks = SlurmBackend.MaxQueueFailures + 1 };
        var e = Assert.Throws<IOException>(() => new SlurmBackend(Settings(new StringWriter()), broken).Run(Runs(root, 3), ctx, Path.Combine(root, "exp2"), "test"));
        Assert.StartsWith("squeue failed", e.Message);
    }

    [Fact]
    public void ARunThatFailsEveryRetryIsReportedMissingWithSlurmsStateAndItsLog()
    {
        string root = Directory.CreateTempSubdirectory("lrml-slurm-logic").FullName;
        var ctx = Context(root);
        var slurm = new InProcessSlurm(ctx) { Fails = (dir, _) => dir.EndsWith("seed3") };
        var output = new StringWriter();
        var result = new SlurmBackend(Settings(output) with { Retries = 1 }, slurm).Run(Runs(root, 3), ctx, Path.Combine(root, "exp"), "test");
        Assert.Equal([RunState.Finished, RunState.Finished, RunState.Missing], result.Select(r => r.State).ToArray());
        Assert.StartsWith("Slurm state CANCELLED; log ", result[2].Message);
        Assert.Contains("CANCELLED ***", result[2].Message);                                       // the end of the task's log
        Assert.Equal([null, "2"], slurm.Submissions.Select(s => s.Array).ToArray());              // the array, then one retry of task 2 only
        Assert.Equal(2, slurm.Attempts(Path.Combine(root, "runs", "pop-seed3")));
        Assert.Contains("Giving up on", output.ToString());
    }

    [Fact]
    public void NoWaitReturnsQueuedRunsAndALaterCallWaitsForThemInsteadOfSubmittingAgain()
    {
        string root = Directory.CreateTempSubdirectory("lrml-slurm-logic").FullName;
        var ctx = Context(root);
        var slurm = new InProcessSlurm(ctx) { Hold = true };
        var output = new StringWriter();
        var runs = Runs(root, 3);
        string folder = Path.Combine(root, "exp");
        var first = new SlurmBackend(Settings(output) with { Wait = false }, slurm).Run(runs, ctx, folder, "test");
        Assert.All(first, r => Assert.Equal(RunState.Queued, r.State));
        Assert.StartsWith($"queued as Slurm task {slurm.Submissions[0].JobId}_0 (log ", first[0].Message);
        Assert.Throws<RunsOutstandingException>(() => RunsOutstandingException.ThrowIfAny(first, "runs"));
        Assert.True(Assert.Throws<RunsOutstandingException>(() => RunsOutstandingException.ThrowIfAny(first, "runs")).OnlyQueued);

        // again with --no-wait while the cluster is busy: the runs are found in the queue, nothing is submitted twice
        var second = new SlurmBackend(Settings(output) with { Wait = false }, slurm).Run(runs, ctx, folder, "test");
        Assert.All(second, r => Assert.Equal(RunState.Queued, r.State));
        Assert.Single(slurm.Submissions);
        Assert.Contains("3 run(s) (test) are already queued in Slurm job(s) 100", output.ToString());

        // the cluster gets to them; waiting now collects them, still without a second submission
        slurm.Hold = false;
        var third = new SlurmBackend(Settings(output), slurm).Run(runs, ctx, folder, "test");
        Assert.All(third, r => Assert.Equal(RunState.Finished, r.State));
        Assert.Single(slurm.Submissions);

        // everything finished: a last call loads the runs and talks to no scheduler at all
        var fourth = new SlurmBackend(Settings(output), new ThrowingSlurm()).Run(runs, ctx, folder, "test");
        Assert.All(fourth, r => Assert.Equal(RunState.Finished, r.State));
        Assert.Equal(third.Select(r => r.Run!.Result.Metrics["nDCG@10"]), fourth.Select(r => r.Run!.Result.Metrics["nDCG@10"]));
    }

    private sealed class ThrowingSlurm : ISlurmClient
    {
        public string Submit(string script, string? array = null) => throw new InvalidOperationException("no submission expected");
        public IReadOnlyList<QueuedTask> Queue() => throw new InvalidOperationException("no queue look expected");
        public string? FinalState(string jobId, int task) => throw new InvalidOperationException("no state expected");
    }

    [Fact]
    public void ADryRunPrintsTheScriptAndTheRunsAndWritesOrSubmitsNothing()
    {
        string root = Directory.CreateTempSubdirectory("lrml-slurm-logic").FullName;
        var ctx = Context(root);
        var output = new StringWriter();
        var runs = Runs(root, 2);
        string folder = Path.Combine(root, "exp");
        var result = new SlurmBackend(Settings(output) with { DryRun = true, Partition = "short", Throttle = 1 }, new ThrowingSubmitSlurm()).Run(runs, ctx, folder, "test");
        Assert.All(result, r => Assert.Equal((RunState.Queued, "dry run: not submitted"), (r.State, r.Message)));
        string said = output.ToString();
        string jobDir = Path.Combine(folder, "slurm", "job-001");
        Assert.Contains($"Dry run: no job file is written and nothing is submitted. lrml would write 2 run spec(s) to {Path.Combine(jobDir, "specs")}/ and submit this script with sbatch:", said);
        Assert.Contains($"----- {Path.Combine(jobDir, "job.sh")} -----\n#!/bin/bash\n", said);
        Assert.Contains("#SBATCH --array=0-1%1\n", said);
        Assert.Contains("#SBATCH --partition=short\n", said);
        Assert.Contains($"   0  pop on synthetic, seed 1  →  {runs[0].Directory}\n", said);
        Assert.Contains($"   1  pop on synthetic, seed 2  →  {runs[1].Directory}\n", said);
        Assert.False(Directory.Exists(Path.Combine(folder, "slurm")));
        Assert.All(runs, r => Assert.False(Directory.Exists(r.Directory)));
    }

    private sealed class ThrowingSubmitSlurm : ISlurmClient
    {
        public string Submit(string script, string? array = null) => throw new InvalidOperationException("a dry run must not submit");
        public IReadOnlyList<QueuedTask> Queue() => throw new IOException("squeue: not installed");
        public string? FinalState(string jobId, int task) => null;
    }

    [Fact]
    public void AResultsFolderOnTmpIsRefusedBeforeAnythingIsSubmitted()
    {
        string root = Path.Combine("/tmp", "lrml-slurm-logic-" + Guid.NewGuid().ToString("N")[..8]);
        var ctx = Context(root);
        var slurm = new InProcessSlurm(ctx);
        var e = Assert.Throws<ArgumentException>(() =>
            new SlurmBackend(Settings(new StringWriter()) with { SkipSharedFileSystemCheck = false }, slurm).Run(Runs(root, 1), ctx, Path.Combine(root, "exp"), "test"));
        Assert.StartsWith($"The results folder {root} is under /tmp, which is local to each machine of a cluster", e.Message);
        Assert.Empty(slurm.Submissions);
    }

    /// <summary>A sweep through the backend whose second final run never finishes: the sweep still chooses on its trials,
    /// and its final table and summary report the missing run instead of dropping it.</summary>
    [Fact]
    public void ASweepReportsAFinalRunThatNeverFinishedInsteadOfDroppingIt()
    {
        string root = Directory.CreateTempSubdirectory("lrml-slurm-logic").FullName;
        var ctx = Context(root);
        var slurm = new InProcessSlurm(ctx) { Fails = (dir, _) => dir.Contains("finals") && dir.Contains("seed3") };
        var spec = new SweepSpec
        {
            Dataset = "synthetic", Model = "bpr", Space = SearchSpace.Parse(["dim=8,16"]), Trials = 2, Seeds = 3, Epochs = 1,
            Train = new TrainConfig { BatchSize = 4096, Threads = 1 },
        };
        string dir = Path.Combine(root, "sweep");
        var r = Sweep.Run(spec, ctx, dir, new SlurmBackend(Settings(new StringWriter()) with { Retries = 0 }, slurm));
        Assert.Equal(["ok", "ok", "missing"], r.Finals.Select(f => f.Status).ToArray());
        Assert.Equal(3, r.Finals[2].Seed);
        var missing = Assert.Single(r.Missing);
        Assert.Equal(r.Finals[2].RunDir, missing.Planned.Directory);
        Assert.Equal(2, r.Summary["nDCG@10"].N);
        Assert.Contains("Missing: the final run with seed 3 ended without a result and is not in the means (Slurm state CANCELLED; log ",
            File.ReadAllText(Path.Combine(dir, "summary.md")));
        var finals = File.ReadAllLines(Path.Combine(dir, "finals.csv"));
        Assert.Contains(finals, l => l.StartsWith("-1,missing,3,", StringComparison.Ordinal));
        Assert.Equal(2, slurm.Submissions.Count);                                                  // the trials, then the final runs
    }

    /// <summary>Collecting a main table where no run has finished yet: every planned cell is in the table with 0 seeds, and
    /// each missing run is named in the notes.</summary>
    [Fact]
    public void AMainTableCollectedBeforeItsRunsFinishedListsEveryMissingRun()
    {
        string root = Directory.CreateTempSubdirectory("lrml-slurm-logic").FullName;
        var ctx = Context(root);
        var options = new MainTableOptions { Datasets = ["synthetic"], Models = ["pop", "bpr"], Seeds = 2, Threads = 1, ChartImages = false };
        var report = MainTable.Run(options, ctx, CollectBackend.Instance);
        Assert.Equal(3, report.Missing.Count);                                                     // pop once, bpr twice
        Assert.Equal(2, report.Table.Rows.Count);
        Assert.All(Enumerable.Range(0, 2), row => Assert.Equal(0, Convert.ToInt32(report.Table.Get(row, "seeds"), CultureInfo.InvariantCulture)));
        Assert.Contains(report.Table.Notes, n => n.StartsWith("Missing from the means: synthetic BPR-MF seed 2 (not finished (collecting only", StringComparison.Ordinal));
        Assert.Empty(report.Runs);
    }
}
