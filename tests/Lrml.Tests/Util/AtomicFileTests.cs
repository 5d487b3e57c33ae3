using Lrml.Util;

namespace Lrml.Tests.Util;

public class AtomicFileTests
{
    [Fact]
    public void FailedWriteKeepsPreviousFileAndLeavesNoTemp()
    {
        string dir = Directory.CreateTempSubdirectory("lrml-atomic").FullName;
        string path = Path.Combine(dir, "result.json");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("partial"u8);
            throw new InvalidOperationException("crash mid-write");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir));
        AtomicFile.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
    }
}
