namespace Lrml.Cli;
internal static class Entry
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("lrml: commands are being built; see README.md.");
        return 2;
    }
}
