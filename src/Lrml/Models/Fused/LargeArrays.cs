using System.Runtime.InteropServices;

namespace Lrml.Models.Fused;

/// <summary>
/// Allocation of the big parameter and optimiser tables. Rows are read and written in random order, so on
/// 4 KB pages almost every row access is also a TLB miss once tables outgrow the TLB reach (a few MB).
/// On Linux, tables of 4 MB and more are allocated pinned (they never move) and advised as transparent
/// huge pages (madvise MADV_HUGEPAGE, honoured when THP is in "madvise" or "always" mode) before their
/// first write, so the kernel can back them with 2 MB pages. Elsewhere, or when the advice fails, they are
/// ordinary arrays. Contents are zero either way.
/// </summary>
internal static partial class LargeArrays
{
    private const long Threshold = 4L << 20;
    private const int MadvHugepage = 14;
    private static bool _unavailable;

    /// <summary>A zeroed float array of the given length.</summary>
    public static float[] Floats(long length)
    {
        if (length * sizeof(float) < Threshold || !OperatingSystem.IsLinux() || _unavailable) return new float[length];
        var a = GC.AllocateArray<float>(checked((int)length), pinned: true);
        Advise(a);
        return a;
    }

    private static unsafe void Advise(float[] a)
    {
        const long huge = 2L << 20;
        fixed (float* p = a)
        {
            long start = (long)p, end = start + (long)a.Length * sizeof(float);
            long alignedStart = (start + huge - 1) & ~(huge - 1), alignedEnd = end & ~(huge - 1);
            if (alignedEnd <= alignedStart) return;
            try { _ = madvise((nint)alignedStart, (nuint)(alignedEnd - alignedStart), MadvHugepage); }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _unavailable = true; }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint addr, nuint length, int advice);
}
