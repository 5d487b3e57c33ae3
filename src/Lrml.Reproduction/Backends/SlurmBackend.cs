using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Lrml.Reproduction;
using Lrml.Util;

using Lrml.Experiments;

using Lrml.Models;

namespace Lrml.Reproduction.Backends;

/// <summary>
/// Runs on a Slurm cluster as job arrays, with Slurm's own tools and no protocol of the kit's own:
/// <list type="number">
/// <item>Runs already finished (or diverged) on disk are loaded; runs still queued by an earlier submission of the same
/// experiment (found with squeue) are waited for, not submitted twice.</item>
/// <item>The others get a job folder <c>folder/slurm/job-NNN/</c>: one spec file per run (<see cref="RunSpecFile"/>,
/// specs/i.json), a probe file, runs.json (task → run directory and key), logs/, and one sbatch script
/// (<see cref="SlurmScript"/>) whose array task i runs spec i; it is submitted with sbatch and recorded in
/// folder/slurm/submissions.json.</item>
/// <item>Waiting polls squeue and prints progress; a run whose task left the queue without a result (failed, cancelled,
/// killed by the time limit, preempted and not requeued) is resubmitted alone (<c>sbatch --array=&lt;its index&gt;</c> of the
/// same script, so it resumes from its checkpoint), up to <see cref="SlurmSettings.Retries"/> times; then it is reported
/// missing with Slurm's end state and its log. Preempted tasks are requeued by Slurm itself (the script asks for --requeue).</item>
/// <item>With <see cref="SlurmSettings.Wait"/> false it returns right after submitting (runs Queued); the same command later
/// collects them. With <see cref="SlurmSettings.DryRun"/> it prints the script and the runs and submits nothing.</item>
/// </list>
/// The kit's result.json in each run directory, not Slurm's bookkeeping, says whether a run finished.
/// </summary>
internal sealed class SlurmBackend(SlurmSettings settings, ISlurmClient? client = null) : IRunBackend
{
    private readonly ISlurmClient _client = client ?? new SlurmCommands();

    /// <summary>The settings of this backend.</summary>
    public SlurmSettings Settings { get; } = settings ?? throw new ArgumentNullException(nameof(settings));

    /// <inheritdoc/>
    public string Name => "slurm";

    /// <summary>File (in folder/slurm/) that lists every submission: job id, job folder, array tasks, time.</summary>
    public const string SubmissionsFile = "submissions.json";

    /// <summary>Consecutive failed looks at the queue (squeue errors) tolerated while waiting before giving up; the jobs keep
    /// running either way, and the same command later picks them up.</summary>
    public const int MaxQueueFailures = 5;

    private sealed record Submission(string JobId, string JobDirectory, int[] Tasks, DateTime SubmittedUtc, string Label);

    private sealed record Tracked(Submission Submission, int Task);

    /// <inheritdoc/>
    public IReadOnlyList<BackendRun> Run(IReadOnlyList<PlannedRun> runs, ExperimentContext context, string folder, string label, Action<BackendRun>? onEnded = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(context);
        Settings.Validate();
        var results = new BackendRun?[runs.Count];
        var open = new List<int>();
        for (int i = 0; i < runs.Count; i++)
        {
            var end = RunEnd.Read(runs[i], context);
            if (end is null) { open.Add(i); continue; }
            results[i] = end;
            onEnded?.Invoke(end);
        }
        if (open.Count == 0) return results!;

        string slurmDir = Path.Combine(Path.GetFullPath(folder), "slurm");
        var submissions = ReadSubmissions(slurmDir);
        var inFlight = new Dictionary<int, Tracked>();
        IReadOnlyList<QueuedTask> queue;
        try { queue = _client.Queue(); }
        catch (IOException) when (Settings.DryRun) { queue = []; }                     // a dry run also works where Slurm is not installed
        foreach (var (i, tracked) in FindQueued(runs, open, submissions, queue)) inFlight[i] = tracked;
        if (inFlight.Count > 0)
            Say(context, $"{inFlight.Count} run(s) ({label}) are already queued in Slurm job(s) " +
                         $"{string.Join(", ", inFlight.Values.Select(t => t.Submission.JobId).Distinct())}: waiting for them instead of submitting them again.");

        var toSubmit = open.Where(i => !inFlight.ContainsKey(i)).ToList();
        if (toSubmit.Count > 0)
        {
            var submission = Submit(runs, toSubmit, context, slurmDir, label, submissions);
            if (submission is null)                                                            // dry run
                return Finish(results, runs, inFlight, toSubmit, "dry run: not submitted");
            for (int k = 0; k < toSubmit.Count; k++) inFlight[toSubmit[k]] = new Tracked(submission, k);
        }
        else if (Settings.DryRun)
            Print(context, $"Dry run: nothing to submit for the {label}: every unfinished run is already queued.");

        if (!Settings.Wait || Settings.DryRun) return Finish(results, runs, inFlight, [], null);
        Wait(runs, results, inFlight, context, slurmDir, label, submissions, onEnded);
        return results!;
    }

    private BackendRun[] Finish(BackendRun?[] results, IReadOnlyList<PlannedRun> runs, Dictionary<int, Tracked> inFlight, List<int> notSubmitted, string? why)
    {
        foreach (var (i, t) in inFlight)
            results[i] = new BackendRun(runs[i], RunState.Queued,
                Message: $"queued as Slurm task {t.Submission.JobId}_{t.Task} (log {LogPath(t.Submission, t.Task)})");
        foreach (var i in notSubmitted) results[i] = new BackendRun(runs[i], RunState.Queued, Message: why);
        return results!;
    }

    /// <summary>Writes the job folder and submits it; returns null in a dry run (after printing the script and the runs).</summary>
    private Submission? Submit(IReadOnlyList<PlannedRun> runs, List<int> toSubmit, ExperimentContext context, string slurmDir, string label, List<Submission> submissions)
    {
        var pending = toSubmit.Select(i => runs[i]).ToList();
        CheckShared(pending, context, slurmDir);
        // the submitting machine builds each split once (tasks then load the frozen split instead of racing to build it) and
        // measures the runs for the default time limit
        var resources = TaskResources.For(pending, context, Settings);
        string jobDir = NextJobDirectory(slurmDir);
        string token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        string script = SlurmScript.Render(jobDir, pending.Count, label, Settings, resources, context.Data.Root, context.ResultsRoot, token);
        if (Settings.DryRun)
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"Dry run: no job file is written and nothing is submitted. lrml would write {pending.Count} run spec(s) to {Path.Combine(jobDir, "specs")}/ ");
            sb.Append("and submit this script with sbatch:\n");
            sb.Append("----- ").Append(Path.Combine(jobDir, SlurmScript.FileName)).Append(" -----\n").Append(script);
            sb.Append("----- runs: array task → run directory -----\n");
            for (int k = 0; k < pending.Count; k++)
                sb.Append(CultureInfo.InvariantCulture, $"{k,4}  {Describe(pending[k].Spec)}  →  {pending[k].Directory}\n");
            sb.Append(resources.Explanation);
            Print(context, sb.ToString());
            return null;
        }
        Directory.CreateDirectory(Path.Combine(jobDir, "specs"));
        Directory.CreateDirectory(Path.Combine(jobDir, "logs"));
        var index = new JsonArray();
        for (int k = 0; k < pending.Count; k++)
        {
            new RunSpecFile(pending[k].Spec, pending[k].Directory, context.Overwrite, context.KeepCheckpoints).Save(Path.Combine(jobDir, "specs", $"{k}.json"));
            index.Add(new JsonObject { ["task"] = k, ["run_dir"] = pending[k].Directory, ["key"] = RunStore.SpecKey(pending[k].Spec), ["run"] = Describe(pending[k].Spec) });
        }
        AtomicFile.WriteAllText(Path.Combine(jobDir, "runs.json"), index.ToJsonString(ConfigBinder.Json) + "\n");
        AtomicFile.WriteAllText(Path.Combine(jobDir, "probe"), token);
        string scriptPath = Path.Combine(jobDir, SlurmScript.FileName);
        AtomicFile.WriteAllText(scriptPath, script);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(scriptPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        string jobId = _client.Submit(scriptPath);
        var submission = new Submission(jobId, jobDir, Enumerable.Range(0, pending.Count).ToArray(), DateTime.UtcNow, label);
        submissions.Add(submission);
        SaveSubmissions(slurmDir, submissions);
        Say(context, $"Submitted {pending.Count} run(s) ({label}) as Slurm job {jobId} (array {SlurmScript.ArraySpec(submission.Tasks, Settings.Throttle)}, " +
                     $"--time {SlurmSettings.FormatTime(resources.Time)}, --mem {resources.MemoryMb}M, --cpus-per-task {resources.Cpus}): " +
                     $"script {scriptPath}, logs in {Path.Combine(jobDir, "logs")}. {resources.Explanation}");
        return submission;
    }

    private void Wait(IReadOnlyList<PlannedRun> runs, BackendRun?[] results, Dictionary<int, Tracked> inFlight, ExperimentContext context,
        string slurmDir, string label, List<Submission> submissions, Action<BackendRun>? onEnded)
    {
        var attempts = new Dictionary<int, int>();
        var clock = Stopwatch.StartNew();
        string lastProgress = "";
        double lastSaid = double.NegativeInfinity;
        int total = inFlight.Count;
        int queueFailures = 0;
        while (inFlight.Count > 0)
        {
            IReadOnlyList<QueuedTask> queue;
            try { queue = _client.Queue(); queueFailures = 0; }
            catch (IOException e) when (++queueFailures <= MaxQueueFailures)
            {
                // a controller that restarts or is briefly overloaded: the jobs go on, look again later
                Say(context, $"{e.Message} (look {queueFailures} of {MaxQueueFailures}; trying again in {Settings.PollSeconds:0.#} s)");
                Thread.Sleep(TimeSpan.FromSeconds(Settings.PollSeconds));
                continue;
            }
            var queued = queue.ToDictionary(q => (q.JobId, q.Task));
            var failed = new List<(int Run, Tracked Tracked, string Why)>();
            foreach (var (i, t) in inFlight.ToList())
            {
                if (queued.ContainsKey((t.Submission.JobId, t.Task))) continue;                 // pending, running, completing, requeued
                var end = RunEnd.Read(runs[i], context);
                if (end is not null)
                {
                    results[i] = end;
                    inFlight.Remove(i);
                    onEnded?.Invoke(end);
                    continue;
                }
                failed.Add((i, t, WhyNoResult(t)));
            }
            foreach (var group in failed.GroupBy(f => f.Tracked.Submission.JobDirectory))
            {
                var retry = group.Where(f => attempts.GetValueOrDefault(f.Run) < Settings.Retries).ToList();
                foreach (var f in group.Except(retry))
                {
                    results[f.Run] = new BackendRun(runs[f.Run], RunState.Missing, Message: f.Why);
                    inFlight.Remove(f.Run);
                    Say(context, $"Giving up on {runs[f.Run].Directory} after {Settings.Retries} resubmission(s): {f.Why}");
                }
                if (retry.Count == 0) continue;
                var tasks = retry.Select(f => f.Tracked.Task).ToArray();
                string scriptPath = Path.Combine(group.Key, SlurmScript.FileName);
                string jobId = _client.Submit(scriptPath, SlurmScript.ArraySpec(tasks, Settings.Throttle));
                var resubmission = new Submission(jobId, group.Key, tasks, DateTime.UtcNow, label);
                submissions.Add(resubmission);
                SaveSubmissions(slurmDir, submissions);
                foreach (var f in retry)
                {
                    attempts[f.Run] = attempts.GetValueOrDefault(f.Run) + 1;
                    inFlight[f.Run] = new Tracked(resubmission, f.Tracked.Task);
                    Say(context, $"Task {f.Tracked.Submission.JobId}_{f.Tracked.Task} ({Path.GetFileName(runs[f.Run].Directory)}) ended without a result: {f.Why}. " +
                                 $"Resubmitted as task {jobId}_{f.Tracked.Task} (attempt {attempts[f.Run] + 1}); it resumes from the run's checkpoint when there is one.");
                }
            }
            if (inFlight.Count == 0) break;
            int running = inFlight.Values.Count(t => queued.TryGetValue((t.Submission.JobId, t.Task), out var q) && q.State is "RUNNING" or "COMPLETING");
            int done = total - inFlight.Count;
            string progress = $"Slurm ({label}): {done} of {total} run(s) ended, {running} running, {inFlight.Count - running} pending";
            if (progress != lastProgress || clock.Elapsed.TotalSeconds - lastSaid >= 60)
            {
                Say(context, $"{progress} [{clock.Elapsed.TotalSeconds:F0} s; jobs {string.Join(", ", inFlight.Values.Select(t => t.Submission.JobId).Distinct())}]");
                lastProgress = progress;
                lastSaid = clock.Elapsed.TotalSeconds;
            }
            Thread.Sleep(TimeSpan.FromSeconds(Settings.PollSeconds));
        }
        int ok = results.Count(r => r?.State is RunState.Finished or RunState.Diverged);
        Say(context, $"Slurm ({label}): done after {clock.Elapsed.TotalSeconds:F0} s; {ok} of {runs.Count} run(s) ended with a result" +
                     (results.Any(r => r?.State == RunState.Missing) ? $", {results.Count(r => r?.State == RunState.Missing)} missing." : "."));
    }

    /// <summary>Slurm's end state of a task that left the queue without a result, and where its log is.</summary>
    private string WhyNoResult(Tracked t)
    {
        string? state = _client.FinalState(t.Submission.JobId, t.Task);
        string log = LogPath(t.Submission, t.Task);
        if (!File.Exists(log))
            return $"Slurm state {state ?? "unknown"}; the task left no log at {log}: is the results folder on a file system the compute nodes share?";
        string tail = string.Join(" | ", File.ReadLines(log).Where(l => l.Trim().Length > 0).TakeLast(2)).Trim();
        return $"Slurm state {state ?? "unknown"}; log {log}" + (tail.Length > 0 ? $" (ends: {Shorten(tail, 240)})" : "");
    }

    private static string Shorten(string s, int n) => s.Length <= n ? s : s[..n] + "…";

    private static string LogPath(Submission s, int task) =>
        Path.Combine(s.JobDirectory, "logs", $"{s.JobId}_{task.ToString(CultureInfo.InvariantCulture)}.out");

    /// <summary>Open runs that a queued task of an earlier submission will produce (matched by run directory and spec key).</summary>
    private static IEnumerable<(int Run, Tracked Tracked)> FindQueued(IReadOnlyList<PlannedRun> runs, List<int> open, List<Submission> submissions, IReadOnlyList<QueuedTask> queue)
    {
        var queued = queue.Select(q => (q.JobId, q.Task)).ToHashSet();
        var wanted = open.ToDictionary(i => (runs[i].Directory, RunStore.SpecKey(runs[i].Spec)), i => i);
        var found = new HashSet<int>();
        foreach (var s in submissions.AsEnumerable().Reverse())
        {
            if (!s.Tasks.Any(t => queued.Contains((s.JobId, t)))) continue;
            var index = ReadRunIndex(s.JobDirectory);
            foreach (var t in s.Tasks)
            {
                if (!queued.Contains((s.JobId, t)) || !index.TryGetValue(t, out var run)) continue;
                if (wanted.TryGetValue(run, out int i) && found.Add(i)) yield return (i, new Tracked(s, t));
            }
        }
    }

    private static Dictionary<int, (string, string)> ReadRunIndex(string jobDir)
    {
        var d = new Dictionary<int, (string, string)>();
        string path = Path.Combine(jobDir, "runs.json");
        if (!File.Exists(path)) return d;
        try
        {
            foreach (var n in JsonNode.Parse(File.ReadAllText(path))!.AsArray())
                d[(int)n!["task"]!] = ((string)n["run_dir"]!, (string)n["key"]!);
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new InvalidDataException($"{path}: not a job index of the kit ({ex.Message.Split('\n')[0]}). The kit writes it atomically, so it was " +
                                           "damaged from outside: delete the job folder (its runs are then submitted again).", ex);
        }
        return d;
    }

    private static List<Submission> ReadSubmissions(string slurmDir)
    {
        string path = Path.Combine(slurmDir, SubmissionsFile);
        if (!File.Exists(path)) return [];
        try
        {
            return JsonNode.Parse(File.ReadAllText(path))!.AsArray().Select(n => new Submission((string)n!["job_id"]!, (string)n["job_dir"]!,
                n["tasks"]!.AsArray().Select(t => (int)t!).ToArray(), (DateTime)n["submitted_utc"]!, (string?)n["label"] ?? "")).ToList();
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a submission list of the kit ({ex.Message.Split('\n')[0]}). The kit writes it atomically, so it " +
                                           "was damaged from outside: delete it (runs still queued are then submitted again).", ex);
        }
    }

    private static void SaveSubmissions(string slurmDir, List<Submission> submissions)
    {
        var a = new JsonArray(submissions.Select(s => (JsonNode)new JsonObject
        {
            ["job_id"] = s.JobId, ["job_dir"] = s.JobDirectory, ["tasks"] = new JsonArray(s.Tasks.Select(t => (JsonNode)t).ToArray()),
            ["submitted_utc"] = s.SubmittedUtc, ["label"] = s.Label,
        }).ToArray());
        Directory.CreateDirectory(slurmDir);
        AtomicFile.WriteAllText(Path.Combine(slurmDir, SubmissionsFile), a.ToJsonString(ConfigBinder.Json) + "\n");
    }

    private static string NextJobDirectory(string slurmDir)
    {
        int n = 1;
        if (Directory.Exists(slurmDir))
            foreach (var d in Directory.EnumerateDirectories(slurmDir, "job-*"))
                if (int.TryParse(Path.GetFileName(d)[4..], NumberStyles.Integer, CultureInfo.InvariantCulture, out int k)) n = Math.Max(n, k + 1);
        return Path.Combine(slurmDir, $"job-{n:000}");
    }

    /// <summary>Refuses folders the nodes certainly cannot see (see <see cref="SharedFileSystem"/>), unless told to skip.</summary>
    private void CheckShared(List<PlannedRun> pending, ExperimentContext context, string slurmDir)
    {
        var paths = new List<(string Path, string What)> { (context.ResultsRoot, "The results folder"), (slurmDir, "The job folder") };
        paths.AddRange(pending.Select(p => (p.Directory, "The run directory")).DistinctBy(p => p.Directory).Take(1));
        foreach (var info in pending.Select(p => Data.Datasets.Get(p.Spec.Dataset)).DistinctBy(i => i.Name))
            if (info.Own is { } own) paths.Add((Path.GetDirectoryName(own.File)!, "The folder of your data file"));
            else if (info.Name != "synthetic" && !paths.Any(p => p.Path == context.Data.Root)) paths.Add((context.Data.Root, "The data folder"));
        foreach (var part in Settings.Command.Where(c => c.Contains('/')))
            paths.Add((part, "The lrml binary"));
        foreach (var (path, what) in paths)
        {
            if (path.Any(char.IsWhiteSpace))
                throw new ArgumentException($"{what} {path} contains a space, which #SBATCH lines cannot hold: use a path without spaces for --results.");
            if (Settings.SkipSharedFileSystemCheck) continue;
            if (SharedFileSystem.Problem(path, what) is string problem) throw new ArgumentException(problem);
        }
    }

    private void Say(ExperimentContext context, string text)
    {
        if (Settings.Output is { } w) w.WriteLine(text);
        else context.Observer.Message(text);
    }

    private void Print(ExperimentContext context, string text) => Say(context, text);

    /// <summary>"lrml on ml-100k (leave-last-out), seed 2, dim=64 lr=…": a run in one line.</summary>
    public static string Describe(RunSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string settings = string.Join(" ", spec.Settings.Select(kv => $"{kv.Key}={kv.Value}"));
        return $"{spec.Model} on {spec.Dataset}{(spec.Protocol is null ? "" : $" ({spec.Protocol})")}, seed {spec.Train.Seed}" +
               (settings.Length > 0 ? ", " + settings : "");
    }
}
