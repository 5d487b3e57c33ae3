using Lrml.Util;

namespace Lrml.Tests.Util;

public class RngTests
{
    [Fact]
    public void SameSeedSameSequence_DifferentStreamsDiffer()
    {
        var a = new Rng(42, "sampler"); var b = new Rng(42, "sampler"); var c = new Rng(42, "shuffle");
        var xa = Enumerable.Range(0, 100).Select(_ => a.NextUInt64()).ToArray();
        var xb = Enumerable.Range(0, 100).Select(_ => b.NextUInt64()).ToArray();
        var xc = Enumerable.Range(0, 100).Select(_ => c.NextUInt64()).ToArray();
        Assert.Equal(xa, xb);
        Assert.NotEqual(xa, xc);
    }

    [Fact]
    public void StateRoundTripResumesExactly()
    {
        var a = new Rng(7);
        for (int k = 0; k < 10; k++) a.NextUInt64();
        var state = a.GetState();
        var expected = Enumerable.Range(0, 20).Select(_ => a.NextInt(1000)).ToArray();
        var b = new Rng(123);
        b.SetState(state);
        Assert.Equal(expected, Enumerable.Range(0, 20).Select(_ => b.NextInt(1000)).ToArray());
    }

    [Fact]
    public void NextIntIsUniformEnough()
    {
        // chi-square over 10 buckets, 100k draws: 99.9% critical value with 9 dof is 27.9
        var r = new Rng(1);
        var counts = new int[10];
        for (int k = 0; k < 100_000; k++) counts[r.NextInt(10)]++;
        double chi = counts.Sum(c => (c - 10_000.0) * (c - 10_000.0) / 10_000.0);
        Assert.True(chi < 27.9, $"chi-square {chi}");
        Assert.Throws<ArgumentOutOfRangeException>(() => r.NextInt(0));
    }

    [Fact]
    public void GaussianHasUnitMoments()
    {
        var r = new Rng(3);
        var xs = Enumerable.Range(0, 200_000).Select(_ => r.NextGaussian()).ToArray();
        Assert.InRange(xs.Average(), -0.01, 0.01);
        Assert.InRange(xs.Select(x => x * x).Average(), 0.98, 1.02);
    }

    [Fact]
    public void CopyStateFromContinuesTheOtherSequenceWithoutTouchingIt()
    {
        var source = new Rng(11, "a");
        for (int x = 0; x < 5; x++) source.NextUInt64();
        var before = source.GetState();
        var copy = new Rng(99, "b");
        copy.CopyStateFrom(source);
        Assert.Equal(before, source.GetState());
        for (int x = 0; x < 100; x++) Assert.Equal(source.NextUInt64(), copy.NextUInt64());
    }
}
