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
}
