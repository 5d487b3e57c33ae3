using System.Runtime.InteropServices;

namespace Lrml.Util;

/// <summary>
/// Allocation of the big parameter and optimiser tables. Rows are read and written in random order, so on
/// 4 KB pages almost every row access is also a TLB miss once tables outgrow the TLB reach (a few MB).
/// On Linux, tables of 4 MB and more are allocated pinned (they never move) and advised as transparent
/// huge pages (madvise MADV_HUGEPAGE, honoured when THP is in "madvise" or "always" mode) after the pages
/// already backing them are dropped (MADV_DONTNEED), so the kernel can back them with 2 MB pages; their pages
/// are faulted in at allocation.
/// Elsewhere, or when the advice fails, they are ordinary arrays. Contents are zero either way.
/// </summary>
internal static partial class LargeArrays
{
    private const long Threshold = 4L << 20;
    private const int MadvHugepage = 14, MadvDontneed = 4;
    private static bool _unavailable;

    /// <summary>A zeroed float array of the given length.</summary>
    public static float[] Floats(long length) => Of<float>(length);

    /// <summary>A zeroed array of the given length (see the class remarks).</summary>
    public static unsafe T[] Of<T>(long length) where T : unmanaged
    {
        if (length * sizeof(T) < Threshold || !OperatingSystem.IsLinux() || _unavailable) return new T[length];
        var a = GC.AllocateArray<T>(checked((int)length), pinned: true);
        fixed (T* p = a) Advise((byte*)p, length * sizeof(T));
        // Fault the pages in now (zeros are written over zeros): the kernel's page zeroing then happens at
        // construction instead of inside the first training steps that touch each page.
        int stride = 4096 / sizeof(T);
        for (long x = 0; x < a.LongLength; x += stride) a[x] = default;
        return a;
    }

    private static unsafe void Advise(byte* p, long bytes)
    {
        const long huge = 2L << 20;
        long start = (long)p, end = start + bytes;
        long alignedStart = (start + huge - 1) & ~(huge - 1), alignedEnd = end & ~(huge - 1);
        if (alignedEnd <= alignedStart) return;
        try
        {
            // Drop whatever pages back the range first: memory the GC hands out again (after an earlier model or
            // an evaluation buffer was freed) is usually still mapped with 4 KB pages, and the advice alone only
            // affects pages faulted in later. Measured: an ML-20M-shaped d = 50 model trained right after another
            // model's evaluation ran at 1.0 M triples/s instead of 2.0 M without this. The range lies inside the
            // new array, whose contents are zeros anyway, and dropped anonymous pages read back as zeros.
            _ = madvise((nint)alignedStart, (nuint)(alignedEnd - alignedStart), MadvDontneed);
            _ = madvise((nint)alignedStart, (nuint)(alignedEnd - alignedStart), MadvHugepage);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _unavailable = true; }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint addr, nuint length, int advice);
}
