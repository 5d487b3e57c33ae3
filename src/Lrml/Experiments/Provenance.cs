using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

using Lrml.Models;

namespace Lrml.Experiments;

/// <summary>Where a number came from: code commit, machine, runtime, package versions.</summary>
internal static class Provenance
{
    private static string? _commit;

    /// <summary>
    /// The git commit of the code that produced a result: read from the repository at run time (with
    /// "-dirty" when the work tree has uncommitted changes to tracked files), else the commit stamped at
    /// build time, else "unknown".
    /// </summary>
    public static string Commit => _commit ??= ReadCommit();

    private static string ReadCommit()
    {
        string? root = FindRepoRoot(AppContext.BaseDirectory) ?? FindRepoRoot(Environment.CurrentDirectory);
        if (root is not null)
        {
            string? head = RunGit(root, "rev-parse HEAD");
            if (!string.IsNullOrWhiteSpace(head))
            {
                string? status = RunGit(root, "status --porcelain --untracked-files=no");
                return head.Trim() + (string.IsNullOrWhiteSpace(status) ? "" : "-dirty");
            }
        }
        var stamped = typeof(Provenance).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "SourceCommit")?.Value;
        return string.IsNullOrWhiteSpace(stamped) ? "unknown" : stamped + " (build stamp)";
    }

    /// <summary>The directory holding Lrml.Research.sln above <paramref name="start"/>, or null.</summary>
    public static string? FindRepoRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Lrml.Research.sln"))) return dir.FullName;
        return null;
    }

    private static string? RunGit(string dir, string args)
    {
        try
        {
            var psi = new ProcessStartInfo("git", $"-C \"{dir}\" {args}")
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi);
            if (p is null) return null;
            string output = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(5000)) { try { p.Kill(); } catch { } return null; }
            return p.ExitCode == 0 ? output : null;
        }
        catch { return null; }
    }

    /// <summary>CPU model name from /proc/cpuinfo (Linux), else the architecture.</summary>
    public static string CpuModel
    {
        get
        {
            try
            {
                if (File.Exists("/proc/cpuinfo"))
                    foreach (var line in File.ReadLines("/proc/cpuinfo"))
                        if (line.StartsWith("model name", StringComparison.Ordinal))
                            return line[(line.IndexOf(':') + 1)..].Trim();
            }
            catch (IOException) { }
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    /// <summary>A one-line description of the machine and runtime.</summary>
    public static IReadOnlyDictionary<string, string> Machine() => new Dictionary<string, string>
    {
        ["cpu"] = CpuModel,
        ["logical_cores"] = Environment.ProcessorCount.ToString(),
        ["avx512"] = Avx512F.IsSupported ? "yes" : "no",
        ["memory_gib"] = (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024)).ToString("F1"),
        ["os"] = RuntimeInformation.OSDescription,
        ["dotnet"] = RuntimeInformation.FrameworkDescription,
        ["torchsharp"] = typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "unknown",
    };
}
