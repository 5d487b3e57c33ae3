using System.Globalization;
using System.Runtime.CompilerServices;
using Lrml.Fast;

using Lrml.Util;

namespace Lrml.Tests.Util;

public class LargeArraysTests
{
    private const int Length = 16 << 20; // 64 MB of floats: 32 huge pages

    [Fact]
    public void ArraysAreZeroEvenOnMemoryAnEarlierArrayFilled()
    {
        for (int round = 0; round < 4; round++)
        {
            var a = LargeArrays.Floats(Length);
            Assert.Equal(Length, a.Length);
            Assert.Equal(-1, a.AsSpan().IndexOfAnyExcept(0f));
            a.AsSpan().Fill(round + 1f);
            a = null;
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
        }
        var bits = LargeArrays.Of<ulong>(Length / 2);
        Assert.Equal(-1, bits.AsSpan().IndexOfAnyExcept(0UL));
    }

    /// <summary>The regression behind the fix: memory that an earlier array had faulted in with 4 KB pages came back
    /// for the next model's tables without huge pages, and an ML-20M-shaped model then trained at half speed.</summary>
    [Fact]
    public void TablesGetHugePagesAlsoWhenTheGcReusesMemoryFaultedWithSmallPages()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("transparent huge pages are a Linux feature");
        string mode = File.Exists("/sys/kernel/mm/transparent_hugepage/enabled") ? File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled") : "";
        if (!mode.Contains("[madvise]", StringComparison.Ordinal) && !mode.Contains("[always]", StringComparison.Ordinal))
            Assert.Skip($"transparent huge pages are off here ('{mode.Trim()}')");
        for (int round = 0; round < 3; round++)
        {
            // an ordinary pinned array of the same size, touched everywhere: 4 KB pages (THP in madvise mode)
            var plain = GC.AllocateArray<float>(Length, pinned: true);
            for (int x = 0; x < plain.Length; x += 1024) plain[x] = 1f;
            plain = null;
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
        }
        var table = LargeArrays.Floats(Length);
        long huge = AnonHugeKb(table);
        long kb = (long)Length * sizeof(float) / 1024;
        // all but the partial 2 MB pages at the two ends (and whatever the kernel could not find free)
        Assert.True(huge >= kb / 2, $"only {huge} kB of the {kb} kB table are on huge pages");
        GC.KeepAlive(table);
    }

    private static unsafe long AnonHugeKb(float[] a)
    {
        ulong start = (ulong)Unsafe.AsPointer(ref a[0]), end = start + (ulong)a.Length * sizeof(float);
        long total = 0;
        bool inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong lo)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong hi))
            {
                inside = lo < end && hi > start; // a mapping overlapping the array
                continue;
            }
            if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
                total += long.Parse(line.AsSpan(14).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        return total;
    }
}
