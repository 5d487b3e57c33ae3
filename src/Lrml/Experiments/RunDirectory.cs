using Lrml.Training;
using Lrml.Util;

using Lrml.Models;

namespace Lrml.Experiments;

/// <summary>
/// The run directory of one <see cref="Experiment.Run"/>: locked for the whole run (<see cref="FolderLock"/>), cleaned of what
/// killed runs left behind, and — when <c>--overwrite</c> replaces a finished run — a staging folder
/// <c>.&lt;name&gt;.new-&lt;pid&gt;</c> beside it that takes its place only once the new run has finished. Until then the
/// previous run stays exactly as it was, whatever happens to the new one (divergence, full disk, SIGKILL).
/// </summary>
internal sealed class RunDirectory(string directory) : IDisposable
{
    /// <summary>The files a run writes. A folder holding anything else is not a run directory, and --overwrite refuses to
    /// replace it (it could be a results root given as --out by mistake).</summary>
    public static readonly IReadOnlySet<string> RunFiles = new HashSet<string>(StringComparer.Ordinal)
    {
        "config.json", "epochs.jsonl", "result.json", "per_user_test.csv", "best.ckpt", Experiment.CheckpointFile, "spec.json",
    };

    /// <summary>The log of a run trained in a child process (<c>--jobs</c>): written by the parent from before the run starts, so it
    /// is not one of the run's files — a fresh run leaves it in place and a staged rerun keeps it.</summary>
    public const string LogFile = "run.log";

    private readonly string _parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)))
                                      ?? throw new ArgumentException($"'{directory}' cannot be a run directory.");
    private FolderLock? _lock;
    private string? _staging;

    /// <summary>The directory the run belongs in (full path).</summary>
    public string Final { get; } = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));

    private string Name => Path.GetFileName(Final);

    /// <summary>Whether the run is being written beside the previous one (an --overwrite of a finished run).</summary>
    public bool Staged => _staging is not null;

    /// <summary>Takes the lock (or throws "… is in use by pid N …") and removes what killed runs left: temporary files of
    /// interrupted writes and staging folders of interrupted --overwrite reruns (a previous run moved aside by a rerun killed
    /// in the middle of its swap is put back).</summary>
    public void Lock(IRunObserver observer)
    {
        _lock ??= FolderLock.Acquire(Final, "The run directory", "Wait for it to finish, or choose another --out.");
        var (files, bytes) = AtomicFile.DeleteStaleTemps(Final);
        if (files > 0) observer.Message($"Deleted {files} temporary file(s) ({bytes / 1e6:F1} MB) left in '{Final}' by an interrupted write");
        if (!Directory.Exists(_parent)) return;
        foreach (var dir in Directory.EnumerateDirectories(_parent, "." + Name + ".*").Order(StringComparer.Ordinal))
        {
            if (!Path.GetFileName(dir).StartsWith("." + Name + ".", StringComparison.Ordinal)) continue;
            string suffix = Path.GetFileName(dir)[(Name.Length + 2)..];
            if (suffix.StartsWith("old-", StringComparison.Ordinal) && !Directory.Exists(Final))
            {
                Directory.Move(dir, Final);
                observer.Message($"Restored the previous run in '{Final}' (an --overwrite rerun was killed while swapping it)");
            }
            else if (suffix.StartsWith("old-", StringComparison.Ordinal) || suffix.StartsWith("new-", StringComparison.Ordinal))
            {
                Directory.Delete(dir, recursive: true);
                observer.Message($"Deleted '{dir}', left by an interrupted --overwrite rerun");
            }
        }
    }

    /// <summary>
    /// Where a fresh (not resumed) run writes: the directory itself when it is missing or empty, or when it holds a run that
    /// stopped before its first checkpoint (nothing there can be resumed or kept, so it is cleared); with
    /// <paramref name="overwrite"/> and a finished or resumable run there, a new staging folder beside it. Anything else is an
    /// error that says what to do.
    /// </summary>
    public string Prepare(bool overwrite, IRunObserver observer)
    {
        if (_lock is null) throw new InvalidOperationException("Lock the run directory first.");
        var entries = Directory.Exists(Final) ? Directory.EnumerateFileSystemEntries(Final).Select(e => Path.GetFileName(e)!).Where(e => e != LogFile).ToList() : [];
        if (entries.Count == 0)
        {
            Directory.CreateDirectory(Final);
            return Final;
        }
        bool onlyRunFiles = entries.All(e => RunFiles.Contains(e) && File.Exists(Path.Combine(Final, e)));
        bool finished = entries.Contains("result.json"), checkpointed = entries.Contains(Experiment.CheckpointFile);
        if (StoppedBeforeFirstCheckpoint(Final))
        {
            foreach (var e in entries) File.Delete(Path.Combine(Final, e));
            observer.Message($"Starting again in '{Final}': the run there stopped before its first checkpoint, so there was nothing to resume");
            return Final;
        }
        if (!overwrite)
            throw new IOException(onlyRunFiles && checkpointed && !finished
                ? $"The run directory '{Final}' holds an interrupted run with a checkpoint. Pass --resume with the options of that run to continue it, " +
                  "--overwrite to replace it, or choose another --out."
                : $"The run directory '{Final}' already exists and is not empty. Choose another --out, or pass --overwrite to replace it.");
        if (!onlyRunFiles)
            throw new IOException($"'{Final}' is not a run directory (it holds {string.Join(", ", entries.Where(e => !RunFiles.Contains(e)).Take(3).Select(e => $"'{e}'"))}), " +
                                  "so --overwrite does not replace it. Choose another --out.");
        _staging = Path.Combine(_parent, $".{Name}.new-{Environment.ProcessId}");
        Directory.CreateDirectory(_staging);
        observer.Message($"Training beside the previous run (in '{_staging}'); it replaces '{Final}' only when it has finished");
        return _staging;
    }

    /// <summary>Whether <paramref name="dir"/> holds a run that was interrupted before its first checkpoint: some of a run's
    /// files, nothing else, and neither result.json nor a checkpoint.</summary>
    public static bool StoppedBeforeFirstCheckpoint(string dir)
    {
        if (!Directory.Exists(dir)) return false;
        var entries = Directory.EnumerateFileSystemEntries(dir).Select(e => Path.GetFileName(e)!).Where(e => e != LogFile).ToList();
        return entries.Count > 0 && entries.All(e => RunFiles.Contains(e) && File.Exists(Path.Combine(dir, e)))
               && !entries.Contains("result.json") && !entries.Contains(Experiment.CheckpointFile);
    }

    /// <summary>Puts a finished staged run in place of the previous one: two renames (previous aside, new in), then the
    /// previous run is deleted. A failure of the second rename moves the previous run back.</summary>
    public void Commit()
    {
        if (_staging is null) return;
        string old = Path.Combine(_parent, $".{Name}.old-{Environment.ProcessId}");
        if (Directory.Exists(Final)) Directory.Move(Final, old);
        try { Directory.Move(_staging, Final); }
        catch
        {
            if (Directory.Exists(old) && !Directory.Exists(Final)) Directory.Move(old, Final);
            throw;
        }
        _staging = null;
        if (File.Exists(Path.Combine(old, LogFile))) File.Move(Path.Combine(old, LogFile), Path.Combine(Final, LogFile));   // the same open file
        try { Directory.Delete(old, recursive: true); }
        catch (IOException) { /* a leftover the next run here removes */ }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>The error of a failed staged run, reworded so it is true: the staging folder is gone, the previous run is
    /// unchanged (a divergence no longer claims its checkpoints are on disk).</summary>
    public Exception Explain(Exception ex)
    {
        string kept = $"This --overwrite rerun was discarded. The previous run in '{Final}' is unchanged.";
        string message = _staging is null ? ex.Message : ex.Message.Replace(_staging, Final, StringComparison.Ordinal);
        const string checkpoints = "The checkpoints on disk are the last good ones.";
        message = message.Contains(checkpoints, StringComparison.Ordinal) ? message.Replace(checkpoints, kept, StringComparison.Ordinal) : message.TrimEnd() + " " + kept;
        return ex switch
        {
            TrainingDivergedException d => new TrainingDivergedException(d.Epoch, d.Step, message),
            IOException => new IOException(message, ex),
            _ => ex,
        };
    }

    /// <summary>Deletes an unfinished staging folder and releases the lock.</summary>
    public void Dispose()
    {
        if (_staging is not null)
        {
            try { Directory.Delete(_staging, recursive: true); }
            catch (IOException) { /* a leftover the next run here removes */ }
            catch (UnauthorizedAccessException) { }
            _staging = null;
        }
        _lock?.Dispose();
        _lock = null;
    }
}
