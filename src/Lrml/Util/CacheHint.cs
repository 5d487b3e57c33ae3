using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Lrml.Util;

/// <summary>Software prefetch for random reads of big arrays (pair lists, CSR rows, bitmaps).</summary>
internal static class CacheHint
{
    /// <summary>Hints the CPU to fetch the cache line holding <paramref name="a"/>[<paramref name="index"/>]. Out-of-range
    /// indices and CPUs without SSE do nothing; a prefetch never faults and never changes a result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Prefetch<T>(T[] a, long index) where T : unmanaged
    {
        if (!Sse.IsSupported || (ulong)index >= (ulong)a.LongLength) return;
        Sse.Prefetch0(Unsafe.AsPointer(ref a[index]));
    }

    /// <summary>Hints the CPU to fetch <paramref name="a"/>[<paramref name="start"/> .. <paramref name="start"/> +
    /// <paramref name="length"/>), one hint per 64-byte cache line (e.g. a row of a row-major table). Indices outside the
    /// array are skipped like those of <see cref="Prefetch{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void PrefetchRange<T>(T[] a, long start, int length) where T : unmanaged
    {
        int step = Math.Max(1, 64 / sizeof(T));
        for (long i = start, end = start + length; i < end; i += step) Prefetch(a, i);
    }
}
