using System.Diagnostics;
using System.Globalization;

namespace Lrml.Util;

/// <summary>
/// This process's memory as the kernel sees it: resident set (VmRSS) and its peak (VmHWM) from /proc/self/status on
/// Linux, the .NET working set elsewhere. One reader for run results, the bench and the soak.
/// </summary>
internal static class ProcessMemory
{
    /// <summary>Current resident set in bytes (VmRSS), or the working set where /proc is absent.</summary>
    public static long ResidentBytes()
    {
        if (StatusKiB("VmRSS:") is long kib) return kib * 1024;
        using var p = Process.GetCurrentProcess();
        return p.WorkingSet64;
    }

    /// <summary>Peak resident set in bytes (VmHWM), or the peak working set where /proc is absent.</summary>
    public static long PeakBytes()
    {
        if (StatusKiB("VmHWM:") is long kib) return kib * 1024;
        using var p = Process.GetCurrentProcess();
        return p.PeakWorkingSet64;
    }

    /// <summary>Resets the kernel's peak-RSS counter (VmHWM) of this process; false when not possible.</summary>
    public static bool TryResetPeak()
    {
        try
        {
            if (!File.Exists("/proc/self/clear_refs")) return false;
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>The value of a "Key:   123 kB" line of /proc/self/status, or null.</summary>
    private static long? StatusKiB(string key)
    {
        try
        {
            if (!File.Exists("/proc/self/status")) return null;
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(key.Length).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException) { }
        return null;
    }
}
